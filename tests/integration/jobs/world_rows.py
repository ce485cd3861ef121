"""Rows and run contexts for the calculateBadges and aggregateAnalytics tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import redis
from loguru import logger

from brewd.core.config import AnalyticsConfig, Config, DatabaseConfig
from brewd.jobs.base import JobContext
from tests.integration.jobs.expiry_rows import Conn, one

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_seq = itertools.count()


def context(
    pg: Conn,
    cache: redis.Redis,
    now: datetime,
    *,
    batch_size: int = 5_000,
    max_backfill_hours: int = 72,
    should_stop: Callable[[], bool] | None = None,
    fence: Callable[[Conn], None] | None = None,
) -> JobContext:
    config = Config(
        database=DatabaseConfig(batch_size=batch_size),
        analytics=AnalyticsConfig(max_backfill_hours=max_backfill_hours),
    )
    hooks: dict[str, Any] = {}
    if should_stop is not None:
        hooks["should_stop"] = should_stop
    if fence is not None:
        hooks["fence"] = fence
    return JobContext(conn=pg, cache=cache, config=config, now=now, log=logger, **hooks)


def local(zone: str, wall: str) -> datetime:
    """The UTC instant of a wall-clock time ('2024-03-31 05:00') in `zone`."""
    naive = datetime.fromisoformat(wall)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def cafe(pg: Conn, timezone: str = "UTC", *, name: str = "", active: bool = True) -> UUID:
    return one(
        pg,
        "INSERT INTO cafes (name, location, timezone, is_active)"
        " VALUES (%s, 'Here', %s, %s) RETURNING id",
        (name or f"Café {next(_seq)}", timezone, active),
    )


def user(
    pg: Conn,
    cafe_id: UUID,
    *,
    created: datetime,
    expires: datetime,
    name: str = "",
    active: bool = True,
) -> UUID:
    return one(
        pg,
        "INSERT INTO users (username, cafe_id, created_at, expires_at, is_active)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (name or f"guest{next(_seq)}", cafe_id, created, expires, active),
    )


def session(pg: Conn, user_id: UUID, start: datetime, end: datetime | None = None) -> None:
    pg.execute(
        "INSERT INTO user_sessions (user_id, started_at, ended_at) VALUES (%s, %s, %s)",
        (user_id, start, end),
    )


def poke(
    pg: Conn, sender: UUID, to: UUID, at: datetime, *, expired_at: datetime | None = None
) -> None:
    pg.execute(
        "INSERT INTO pokes (from_user_id, to_user_id, created_at, expires_at, expired_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (sender, to, at, at + DAY, expired_at),
    )


def message(pg: Conn, user_id: UUID, at: datetime, content: str = "hello") -> None:
    pg.execute(
        "INSERT INTO messages (user_id, content, created_at) VALUES (%s, %s, %s)",
        (user_id, content, at),
    )


def badge_types(pg: Conn, user_id: UUID) -> set[str]:
    """The types of the user's active badges."""
    rows = pg.execute(
        "SELECT type FROM badges WHERE user_id = %s AND is_active", (user_id,)
    ).fetchall()
    return {row["type"] for row in rows}


def naive_times(pg: Conn) -> bool:
    """True on the original's adopted schema, whose time columns are naive `timestamp`."""
    row = pg.execute(
        "SELECT data_type FROM information_schema.columns"
        " WHERE table_name = 'users' AND column_name = 'expires_at'"
    ).fetchone()
    return bool(row and row["data_type"] == "timestamp without time zone")
