"""Lower bounds for the job benchmark: per job, the best single SQL statement doing its database
work (no batches, no cache, no bookkeeping), returning the count the job reports as its result.

Each bound takes a connection in autocommit mode and the run's `now`, and runs in one
transaction. Add a job's bound to BOUNDS under the job's API name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from brewd.config import PokesConfig

Conn = psycopg.Connection[dict[str, Any]]
Bound = Callable[[Conn, datetime], int]

EXPIRE_USERS = """
WITH expired AS (
    UPDATE users SET is_active = false, updated_at = now()
    WHERE is_active AND expires_at <= %(now)s
    RETURNING id, expires_at
),
closed AS (
    UPDATE user_sessions AS s SET ended_at = greatest(expired.expires_at, s.started_at)
    FROM expired
    WHERE s.user_id = expired.id AND s.ended_at IS NULL
    RETURNING 1
)
SELECT (SELECT count(*) FROM expired) AS rows, (SELECT count(*) FROM closed) AS sessions
"""

EXPIRE_BADGES = """
WITH expired AS (
    UPDATE badges SET is_active = false, updated_at = now()
    WHERE is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s
    RETURNING 1
)
SELECT count(*) AS rows FROM expired
"""

EXPIRE_POKES = """
WITH expired AS (
    UPDATE pokes SET expired_at = %(now)s
    WHERE expired_at IS NULL AND expires_at <= %(now)s
    RETURNING 1
),
purged AS (
    DELETE FROM pokes WHERE expired_at IS NOT NULL AND expired_at < %(cutoff)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM expired) AS rows, (SELECT count(*) FROM purged) AS purged
"""


def _one(conn: Conn, statement: str, params: dict[str, Any]) -> int:
    with conn.transaction():
        row = conn.execute(statement, params).fetchone()
    assert row is not None
    return int(row["rows"])


def expire_users(conn: Conn, now: datetime) -> int:
    return _one(conn, EXPIRE_USERS, {"now": now})


def expire_badges(conn: Conn, now: datetime) -> int:
    return _one(conn, EXPIRE_BADGES, {"now": now})


def expire_pokes(conn: Conn, now: datetime) -> int:
    cutoff = now - timedelta(days=PokesConfig().retention_days)
    return _one(conn, EXPIRE_POKES, {"now": now, "cutoff": cutoff})


BOUNDS: dict[str, Bound] = {
    "expireUsers": expire_users,
    "expireBadges": expire_badges,
    "expirePokes": expire_pokes,
}
