"""Configuration: one frozen tree, loaded from defaults < TOML file < environment < flags."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from brewd.core.catchup import DEFAULT_MAX_GRACE_S
from brewd.core.cron import Cron
from brewd.core.masking import MASK, mask_secrets

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


def _secret(default: str | None = None, *, whole: bool = False) -> Any:
    """A setting that holds a secret: `whole`, the value is one (an API key); otherwise it may
    hold a password inside (a URL or a libpq connection string). This mark is the only list of
    secret settings: SECRET_KEYS, masked(), the log redactor and check-config read it."""
    return field(default=default, repr=False, metadata={"secret": True, "whole": whole})


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    url: str | None = _secret()  # None: libpq's PG* variables and defaults apply
    pool_min_size: int = 4  # warm connections, so runs due at the same slot start without a connect
    # Each running job holds two (its claim and its work), the café host one more per call in
    # flight (proactive.concurrency), plus the probe and the control API: 8 workers x 2 + 8 + 8.
    pool_max_size: int = 32
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
    api_key: str | None = _secret(whole=True)
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
    schedule: Cron  # parsed and checked when the configuration is loaded
    timeout: float = DEFAULT_JOB_TIMEOUT_S
    enabled: bool = True


def default_jobs() -> dict[str, JobConfig]:
    return {name: JobConfig(schedule=Cron(cron)) for name, cron in JOB_DEFAULTS.items()}


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


# The sections (`[database]`, ...) by name, read from Config's fields: a section added there is
# known to the loader, check-config and the docs test at once.
def _sections(defaults: Config) -> dict[str, type[Any]]:
    return {
        f.name: type(getattr(defaults, f.name))
        for f in dataclasses.fields(Config)
        if f.name not in ("jobs", "source")
    }


SECTIONS: Mapping[str, type[Any]] = _sections(Config())


def setting_fields() -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """Every section setting as (`section.key`, its dataclass field), in declaration order."""
    for section, kind in SECTIONS.items():
        for f in dataclasses.fields(kind):
            yield f"{section}.{f.name}", f


def setting(config: Config, key: str) -> Any:
    """The value of the section setting `section.key`."""
    section, _, name = key.partition(".")
    return getattr(getattr(config, section), name)


def env_name(key: str) -> str:
    """The environment variable of a setting: BREWD_<SECTION>_<KEY> (jobs.NAME.key too)."""
    return "BREWD_" + key.replace(".", "_").upper()


# Settings that are, or may hold, a secret: read from the fields' metadata (see _secret).
SECRET_KEYS = frozenset(key for key, f in setting_fields() if f.metadata.get("secret"))
WHOLE_SECRET_KEYS = frozenset(key for key, f in setting_fields() if f.metadata.get("whole"))


def masked(key: str, text: str) -> str:
    """A setting's value as it may be shown: a whole secret as ***, the passwords inside a
    secret URL or connection string as ***, any other setting unchanged."""
    if key in WHOLE_SECRET_KEYS:
        return MASK
    return mask_secrets(text) if key in SECRET_KEYS else text
