"""Rows and run contexts for the expiry job tests: small factories over the real test database."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from loguru import logger

from brewd.adapters.cache import make_client
from brewd.core.config import Config, DatabaseConfig, PokesConfig, RedisConfig
from brewd.core.errors import FenceLost
from brewd.jobs.base import JobContext

Conn = psycopg.Connection[dict[str, Any]]

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
_names = itertools.count()


def make_ctx(
    pg: Conn,
    redis_url: str,
    *,
    now: datetime = NOW,
    batch_size: int = 5_000,
    retention_days: int = 8,
    should_stop: Callable[[], bool] | None = None,
    fence: Callable[[Conn], None] | None = None,
) -> JobContext:
    config = Config(
        database=DatabaseConfig(batch_size=batch_size),
        pokes=PokesConfig(retention_days=retention_days),
    )
    extra: dict[str, Any] = {}
    if should_stop is not None:
        extra["should_stop"] = should_stop
    if fence is not None:
        extra["fence"] = fence
    return JobContext(
        conn=pg,
        cache=make_client(RedisConfig(url=redis_url, socket_timeout=2.0)),
        config=config,
        now=now,
        log=logger.bind(job="test"),
        **extra,
    )


def closed_port_url() -> str:
    """A Redis URL where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


class StopAfter:
    """A stop flag that turns true once `batches` batches have been allowed to start."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked > self.batches


class FenceAfter:
    """A fence that holds for `batches` commits, then reports the claim lost."""

    def __init__(self, batches: int) -> None:
        self.batches = batches
        self.checked = 0

    def __call__(self, conn: Conn) -> None:
        self.checked += 1
        if self.checked > self.batches:
            raise FenceLost("claim lost (test)")


def one(pg: Conn, query: str, params: Any = None) -> Any:
    row = pg.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def add_cafe(pg: Conn, timezone: str = "UTC") -> UUID:
    return one(
        pg,
        "INSERT INTO cafes (name, location, timezone) VALUES (%s, 'Here', %s) RETURNING id",
        (f"Café {next(_names)}", timezone),
    )


def add_user(
    pg: Conn,
    cafe_id: UUID,
    expires_at: datetime,
    *,
    username: str | None = None,
    is_active: bool = True,
) -> UUID:
    return one(
        pg,
        "INSERT INTO users (username, cafe_id, expires_at, is_active, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (
            username or f"guest{next(_names)}",
            cafe_id,
            expires_at,
            is_active,
            NOW - timedelta(days=2),
            NOW - timedelta(days=2),
        ),
    )


def add_session(
    pg: Conn, user_id: UUID, started_at: datetime, ended_at: datetime | None = None
) -> UUID:
    return one(
        pg,
        "INSERT INTO user_sessions (user_id, started_at, ended_at) VALUES (%s, %s, %s)"
        " RETURNING id",
        (user_id, started_at, ended_at),
    )


def add_poke(
    pg: Conn,
    from_id: UUID,
    to_id: UUID,
    expires_at: datetime,
    *,
    expired_at: datetime | None = None,
) -> UUID:
    return one(
        pg,
        "INSERT INTO pokes (from_user_id, to_user_id, expires_at, expired_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (from_id, to_id, expires_at, expired_at, expires_at - timedelta(days=1)),
    )


def add_badge(
    pg: Conn,
    user_id: UUID,
    expires_at: datetime | None,
    *,
    badge_type: str = "EARLY_BIRD",
    is_active: bool = True,
) -> UUID:
    return one(
        pg,
        "INSERT INTO badges (user_id, type, name, expires_at, is_active, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (user_id, badge_type, badge_type.title(), expires_at, is_active, NOW - timedelta(days=3)),
    )


def snapshot(pg: Conn, table: str) -> list[dict[str, Any]]:
    """Every row of a table in id order: compare before and after to prove nothing changed."""
    assert table.isidentifier()
    return pg.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def uses_index(pg: Conn, statement: str, params: dict[str, Any], index: str) -> bool:
    """Whether PostgreSQL can serve `statement` with `index`. Tiny test tables make a
    sequential scan cheapest, so it is priced out here; the benchmark EXPLAINs at scale."""
    with pg.transaction():
        pg.execute("SET LOCAL enable_seqscan = off")
        plan = pg.execute("EXPLAIN " + statement, params).fetchall()
    return any(index in row["QUERY PLAN"] for row in plan)
