"""Loading the configuration: sources, coercion and validation, each error one actionable line."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from brewd.config import (
    DEFAULT_CONFIG_PATH,
    JOB_DEFAULTS,
    LEGACY_ENV,
    LOG_LEVELS,
    SECTIONS,
    Config,
    JobConfig,
    default_jobs,
    is_secret,
)
from brewd.errors import ConfigError

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


@dataclass(frozen=True)
class _Raw:
    """One setting as given by a source, before coercion: where it came from names it in errors."""

    value: Any
    origin: str


def load(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective configuration; raise ConfigError naming the key and the problem."""
    environ = os.environ if environ is None else environ
    explicit = path or environ.get("BREWD_CONFIG")
    file_path = explicit or DEFAULT_CONFIG_PATH
    raw: dict[str, _Raw] = {}
    raw.update(_from_file(file_path, required=bool(explicit)))
    raw.update(_from_environ(environ))
    raw.update({key: _Raw(value, "command line") for key, value in (overrides or {}).items()})
    config = _build(raw)
    config = dataclasses.replace(config, source=file_path if os.path.exists(file_path) else None)
    _validate(config)
    return config


def _from_file(path: str, *, required: bool) -> dict[str, _Raw]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path}: not found") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 text (byte {exc.start})") from None
    return _flatten(document, path)


def _flatten(document: Mapping[str, Any], origin: str) -> dict[str, _Raw]:
    flat: dict[str, _Raw] = {}
    for section, table in document.items():
        if section != "jobs" and section not in SECTIONS:
            raise ConfigError(f"[{section}] in {origin}: unknown section")
        if not isinstance(table, dict):
            raise ConfigError(f"{section} in {origin}: must be a table ([{section}])")
        if section != "jobs":
            flat.update({f"{section}.{key}": _Raw(v, origin) for key, v in table.items()})
            continue
        for job, settings in table.items():
            if not isinstance(settings, dict):
                raise ConfigError(f"jobs.{job} in {origin}: must be a table ([jobs.{job}])")
            flat.update({f"jobs.{job}.{key}": _Raw(v, origin) for key, v in settings.items()})
    return flat


def _from_environ(environ: Mapping[str, str]) -> dict[str, _Raw]:
    flat = {key: _Raw(environ[name], name) for name, key in LEGACY_ENV.items() if name in environ}
    jobs_by_upper = {name.upper(): name for name in JOB_DEFAULTS}
    for name, value in environ.items():
        if not name.startswith("BREWD_") or name == "BREWD_CONFIG":
            continue
        rest = name.removeprefix("BREWD_")
        section = next((s for s in (*SECTIONS, "jobs") if rest.startswith(s.upper() + "_")), None)
        if section is None:
            continue  # BREWD_TEST_* and friends belong to other tools
        key = rest.removeprefix(section.upper() + "_").lower()
        if section == "jobs":
            job = next(
                (j for u, j in jobs_by_upper.items() if key.upper().startswith(u + "_")), None
            )
            if job is None:
                raise ConfigError(f"{name}: unknown job (known: {', '.join(JOB_DEFAULTS)})")
            key = f"{job}.{key[len(job) + 1 :]}"
        flat[f"{section}.{key}"] = _Raw(value, name)
    return flat


def _build(raw: Mapping[str, _Raw]) -> Config:
    sections: dict[str, Any] = {}
    jobs = default_jobs()
    for key in sorted(raw):
        item = raw[key]
        parts = key.split(".")
        if parts[0] == "jobs" and len(parts) == 3:
            jobs[parts[1]] = _set(jobs, parts[1], parts[2], item, key)
            continue
        if len(parts) != 2 or parts[0] not in SECTIONS:
            raise ConfigError(f"{key} ({item.origin}): unknown key")
        section, name = parts
        current = sections.get(section) or SECTIONS[section]()
        sections[section] = _replace(current, name, item, key)
    return Config(**sections, jobs=jobs)


def _set(jobs: Mapping[str, JobConfig], job: str, name: str, item: _Raw, key: str) -> JobConfig:
    if job not in jobs:
        raise ConfigError(f"jobs.{job} ({item.origin}): unknown job (known: {', '.join(jobs)})")
    return _replace(jobs[job], name, item, key)  # type: ignore[no-any-return]


def _replace(current: Any, name: str, item: _Raw, key: str) -> Any:
    hints = {f.name: f.type for f in dataclasses.fields(current)}
    if name not in hints:
        raise ConfigError(f"{key} ({item.origin}): unknown key")
    return dataclasses.replace(current, **{name: _coerce(str(hints[name]), item, key)})


def _coerce(kind: str, item: _Raw, key: str) -> Any:
    value = item.value
    if kind.endswith("| None") and value in ("", None):
        return None
    base = kind.removesuffix(" | None")
    try:
        return _COERCE[base](value, key)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} = {_shown(key, value)} ({item.origin}): {exc}") from None


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected a boolean: true/false, 1/0 or yes/no")


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("expected a whole number")
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _seconds(value: Any, key: str) -> float:
    """A duration: a number of seconds, or a string such as "90s", "10m", "2h"."""
    if isinstance(value, bool):
        raise TypeError('expected a duration such as 30, "90s", "10m" or "2h"')
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError('expected a duration such as 30, "90s", "10m" or "2h"')
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


_COERCE = {"bool": _bool, "int": _int, "float": _seconds, "str": _str}


def _validate(config: Config) -> None:
    """Check what types alone cannot; each message names the key, the value and the problem."""
    try:
        ZoneInfo(config.scheduler.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(
            "scheduler.timezone",
            config.scheduler.timezone,
            "unknown time zone (want an IANA name such as Europe/Paris)",
        )
    for name, job in config.jobs.items():
        check_cron(f"jobs.{name}.schedule", job.schedule)
        _positive(f"jobs.{name}.timeout", job.timeout)
    if config.logging.level.lower() not in LOG_LEVELS:
        _fail("logging.level", config.logging.level, f"expected one of {', '.join(LOG_LEVELS)}")
    if config.pokes.retention_days < 7:
        _fail(
            "pokes.retention_days",
            config.pokes.retention_days,
            "must be at least 7, so Social Butterfly sees a full week",
        )
    if config.database.pool_max_size < max(config.database.pool_min_size, 2):
        _fail(
            "database.pool_max_size",
            config.database.pool_max_size,
            "must be at least 2 and at least database.pool_min_size",
        )
    if config.proactive.max_retries < 0:
        _fail("proactive.max_retries", config.proactive.max_retries, "must be 0 or more")
    if config.proactive.requests_per_minute < 0:
        _fail(
            "proactive.requests_per_minute",
            config.proactive.requests_per_minute,
            "must be 0 (no budget) or more",
        )
    if config.proactive.over_budget not in ("template", "defer"):
        _fail(
            "proactive.over_budget", config.proactive.over_budget, 'expected "template" or "defer"'
        )
    _check_endpoints(config)
    for key, value in _positives(config):
        _positive(key, value)


def _positives(config: Config) -> list[tuple[str, float]]:
    return [
        ("database.connect_timeout", config.database.connect_timeout),
        ("database.batch_size", config.database.batch_size),
        ("redis.socket_timeout", config.redis.socket_timeout),
        ("scheduler.workers", config.scheduler.workers),
        ("scheduler.shutdown_timeout", config.scheduler.shutdown_timeout),
        ("history.keep_runs", config.history.keep_runs),
        ("history.keep_days", config.history.keep_days),
        ("control.max_body_bytes", config.control.max_body_bytes),
        ("control.request_timeout", config.control.request_timeout),
        ("analytics.max_backfill_hours", config.analytics.max_backfill_hours),
        ("proactive.max_tokens", config.proactive.max_tokens),
        ("proactive.timeout", config.proactive.timeout),
        ("proactive.concurrency", config.proactive.concurrency),
        ("proactive.budget_nodes", config.proactive.budget_nodes),
        ("proactive.daily_limit", config.proactive.daily_limit),
        ("proactive.min_interval", config.proactive.min_interval),
    ]


def _check_endpoints(config: Config) -> None:
    """URLs and paths that would otherwise fail only later, half started (secrets masked)."""
    if urlsplit(config.redis.url).scheme not in ("redis", "rediss", "unix"):
        _fail("redis.url", "***", "expected a redis://, rediss:// or unix:// URL")
    if config.database.url:
        from psycopg import ProgrammingError, conninfo  # only here: the import costs ~50 ms

        try:
            conninfo.conninfo_to_dict(config.database.url)
        except ProgrammingError:
            _fail("database.url", "***", "not a PostgreSQL URL or key=value connection string")
    socket_path = os.fsencode(os.path.abspath(config.control.socket))
    if not config.control.socket or len(socket_path) > 100:  # the kernel's limit is 107
        _fail("control.socket", config.control.socket, "expected a path of 1 to 100 bytes")
    if not config.proactive.model.strip():
        _fail("proactive.model", config.proactive.model, "must not be empty")
    base = config.proactive.base_url
    if base is not None and urlsplit(base).scheme not in ("http", "https"):
        _fail("proactive.base_url", base, "expected an http:// or https:// URL")


def check_cron(key: str, expression: str) -> None:
    """Reject anything but a standard five-field cron expression."""
    if len(expression.split()) != 5:
        _fail(key, expression, 'expected a five-field cron expression such as "*/5 * * * *"')
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError) as exc:
        _fail(key, expression, f"invalid cron expression ({exc})")


def _positive(key: str, value: float) -> None:
    if value <= 0:
        _fail(key, value, "must be greater than 0")


def _fail(key: str, value: Any, problem: str) -> None:
    raise ConfigError(f"{key} = {value!r}: {problem}")


def _shown(key: str, value: Any) -> str:
    return "***" if is_secret(key) else repr(value)
