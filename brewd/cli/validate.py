"""Checking a loaded configuration: what types alone cannot say, each error naming the key,
the value (secrets masked) and the problem."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from brewd.cli.legacy_env import WINSTON_LEVELS
from brewd.control.address import parse_listen
from brewd.core.config import LOG_LEVELS, Config, masked
from brewd.core.errors import ConfigError


def validate(config: Config) -> None:
    """Check what types alone cannot; each message names the key, the value and the problem."""
    try:
        ZoneInfo(config.scheduler.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(
            "scheduler.timezone",
            config.scheduler.timezone,
            "unknown time zone (want an IANA name such as Europe/Paris)",
        )
    _check_legacy_timezone(config.database.legacy_timezone)
    for name, job in config.jobs.items():
        _positive(f"jobs.{name}.timeout", job.timeout)
    if config.logging.level not in LOG_LEVELS:
        _fail(
            "logging.level",
            config.logging.level,
            f"expected one of {', '.join(LOG_LEVELS)} (or winston's {', '.join(WINSTON_LEVELS)})",
        )
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


def _check_legacy_timezone(zone: str | None) -> None:
    if zone is None:
        return
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(
            "database.legacy_timezone",
            zone,
            "unknown time zone (want an IANA name such as America/New_York)",
        )


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
        ("control.max_connections", config.control.max_connections),
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
    if config.redis.cluster:
        _check_cluster_url(config.redis.url)
    if config.database.url:
        from psycopg import ProgrammingError, conninfo  # only here: the import costs ~50 ms

        try:
            conninfo.conninfo_to_dict(config.database.url)
        except ProgrammingError:
            _fail("database.url", "***", "not a PostgreSQL URL or key=value connection string")
    socket_path = os.fsencode(os.path.abspath(config.control.socket))
    if not config.control.socket or len(socket_path) > 100:  # the kernel's limit is 107
        _fail("control.socket", config.control.socket, "expected a path of 1 to 100 bytes")
    if config.http.listen is not None:
        try:
            parse_listen(config.http.listen)
        except ValueError as exc:
            _fail("http.listen", config.http.listen, str(exc))
    if not config.proactive.model.strip():
        _fail("proactive.model", config.proactive.model, "must not be empty")
    base = config.proactive.base_url
    if base is not None and urlsplit(base).scheme not in ("http", "https"):
        _fail("proactive.base_url", base, "expected an http:// or https:// URL")


def _positive(key: str, value: float) -> None:
    if value <= 0:
        _fail(key, value, "must be greater than 0")


def _check_cluster_url(url: str) -> None:
    """A cluster node is reached over TCP, and a cluster has only database 0."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        _fail("redis.url", "***", "with redis.cluster = true, name a node as redis://host:port")
    if parts.path.strip("/") not in ("", "0"):
        _fail("redis.url", "***", "a Redis Cluster has only database 0: drop the /N from the URL")


def _fail(key: str, value: Any, problem: str) -> None:
    # Masked here, whatever the caller passed: a secret setting never reaches the message.
    raise ConfigError(f"{key} = {masked(key, repr(value))}: {problem}")
