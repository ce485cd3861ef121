"""Configuration: one frozen tree, loaded from defaults < TOML file < environment < flags."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from brewd.core.catchup import DEFAULT_MAX_GRACE_S
from brewd.core.masking import mask_secrets

DEFAULT_CONFIG_PATH = "/etc/brewd/brewd.toml"

# The spec's job table (SPEC §4): names are API names, schedules are the defaults.
JOB_DEFAULTS: Mapping[str, str] = {
    "expireUsers": "0 * * * *",
    "expireBadges": "0 0 * * *",
    "calculateBadges": "5 0 * * *",
    "expirePokes": "*/5 * * * *",
    "aggregateAnalytics": "5 * * * *",
    "proactiveMessages": "*/2 * * * *",
}

# The original system's environment names, kept so existing deployments carry over (SPEC §2).
LEGACY_ENV: Mapping[str, str] = {
    "DATABASE_URL": "database.url",
    "REDIS_URL": "redis.url",
    "ENABLE_SCHEDULER": "scheduler.enabled",
    "ENABLE_PROACTIVE_MESSAGES": "proactive.enabled",
    "LOG_LEVEL": "logging.level",
    "ANTHROPIC_API_KEY": "proactive.api_key",
    "ANTHROPIC_BASE_URL": "proactive.base_url",
}

LOG_LEVELS = ("trace", "debug", "info", "success", "warning", "error", "critical")


def _secret(default: str | None = None) -> Any:
    return field(default=default, repr=False, metadata={"secret": True})


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    url: str | None = _secret()  # None: libpq's PG* variables and defaults apply
    pool_min_size: int = 4  # warm connections, so runs due at the same slot start without a connect
    pool_max_size: int = 20  # as the original system
    connect_timeout: float = 10.0
    batch_size: int = 5_000  # rows a transaction, so no statement locks a big table for long
    # The zone in which naive `timestamp` columns (a database adopted from the original
    # scheduler) hold their instants; None: the database's own TimeZone setting.
    legacy_timezone: str | None = None


@dataclass(frozen=True, kw_only=True)
class RedisConfig:
    url: str = _secret("redis://127.0.0.1:6379/0")
    socket_timeout: float = 5.0
    cluster: bool = False  # Redis Cluster: url names any node (SPEC §11)


@dataclass(frozen=True, kw_only=True)
class SchedulerConfig:
    enabled: bool = True
    timezone: str = "UTC"
    workers: int = 8
    shutdown_timeout: float = 30.0
    max_catchup_grace: float = DEFAULT_MAX_GRACE_S  # brewd/core/catchup.py


@dataclass(frozen=True, kw_only=True)
class HistoryConfig:
    keep_runs: int = 1_000  # per job
    keep_days: int = 30


@dataclass(frozen=True, kw_only=True)
class ControlConfig:
    socket: str = "/run/brewd/brewd.sock"
    group: str = "brewd"  # group owning the socket (mode 0660)
    admin_group: str = "brewd"  # members may trigger, pause and resume
    max_body_bytes: int = 64 * 1024
    request_timeout: float = 30.0
    # Connections open at once; beyond, new ones are closed on accept. Well under the unit's
    # LimitNOFILE=4096, so a flood of idle connections cannot exhaust the daemon's descriptors.
    max_connections: int = 256


@dataclass(frozen=True, kw_only=True)
class HttpConfig:
    # host:port of the read-only TCP listener (status page, /health, /metrics); None: off.
    listen: str | None = None


@dataclass(frozen=True, kw_only=True)
class LoggingConfig:
    level: str = "info"
    dir: str | None = None  # error.log and combined.log there, rotated at 5 MB, 5 kept


@dataclass(frozen=True, kw_only=True)
class PokesConfig:
    retention_days: int = 8  # never below 7, so Social Butterfly sees a full week


@dataclass(frozen=True, kw_only=True)
class AnalyticsConfig:
    max_backfill_hours: int = 72


@dataclass(frozen=True, kw_only=True)
class ProactiveConfig:
    enabled: bool = False
    api_key: str | None = _secret()
    base_url: str | None = _secret()  # may hold user:password@
    model: str = "claude-haiku-4-5"
    max_tokens: int = 150
    timeout: float = 10.0
    max_retries: int = 1
    concurrency: int = 8  # concurrent Claude calls on this node (each holds one connection)
    requests_per_minute: int = 0  # one budget for all nodes together; 0: no budget
    over_budget: str = (
        "template"  # a café the budget cannot reach in its slot: "template" | "defer"
    )
    budget_nodes: int = 4  # Redis down: each node takes requests_per_minute / budget_nodes
    min_interval: float = 10 * 60.0  # at most one message per café per interval
    daily_limit: int = 60  # per café per local day


DEFAULT_JOB_TIMEOUT_S = 10 * 60.0  # jobs.<name>.timeout; also the reaper's for unknown jobs


@dataclass(frozen=True, kw_only=True)
class JobConfig:
    schedule: str
    timeout: float = DEFAULT_JOB_TIMEOUT_S
    enabled: bool = True


def default_jobs() -> dict[str, JobConfig]:
    return {name: JobConfig(schedule=cron) for name, cron in JOB_DEFAULTS.items()}


@dataclass(frozen=True, kw_only=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    pokes: PokesConfig = field(default_factory=PokesConfig)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    proactive: ProactiveConfig = field(default_factory=ProactiveConfig)
    jobs: Mapping[str, JobConfig] = field(default_factory=default_jobs)
    source: str | None = None  # the file read, for check-config

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.scheduler.timezone)


SECTIONS: Mapping[str, type[Any]] = {
    "database": DatabaseConfig,
    "redis": RedisConfig,
    "scheduler": SchedulerConfig,
    "history": HistoryConfig,
    "control": ControlConfig,
    "http": HttpConfig,
    "logging": LoggingConfig,
    "pokes": PokesConfig,
    "analytics": AnalyticsConfig,
    "proactive": ProactiveConfig,
}


# Settings that are, or may hold, a secret: a password in a URL or key=value string, a key.
SECRET_KEYS = frozenset({"database.url", "redis.url", "proactive.api_key", "proactive.base_url"})


def is_secret(key: str) -> bool:
    return key in SECRET_KEYS


def mask_url(url: str) -> str:
    """The URL or libpq key=value string with every password replaced by ***."""
    return mask_secrets(url)


def effective_values(config: Config) -> list[tuple[str, str]]:
    """Every setting as `section.key`, `value` for check-config, secrets masked."""
    rows: list[tuple[str, str]] = []
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(config, section)):
            rows.append(
                (
                    f"{section}.{f.name}",
                    _display(f"{section}.{f.name}", getattr(getattr(config, section), f.name)),
                )
            )
    for job, settings in config.jobs.items():
        for f in dataclasses.fields(settings):
            rows.append((f"jobs.{job}.{f.name}", _display("", getattr(settings, f.name))))
    return rows


def _display(key: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    if key == "proactive.api_key":
        return "*** (set)"
    if key in SECRET_KEYS:
        return mask_url(str(value))
    return str(value).lower() if isinstance(value, bool) else str(value)
