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

from brewd.core.config import AnalyticsConfig, PokesConfig
from brewd.jobs.aggregate_analytics import COMPUTE_WORK_MEM
from brewd.jobs.analytics_window import window
from brewd.jobs.base import load_sql

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


# calculateBadges: zone check, retiring lapsed badges of the four types, and the awards, in one
# statement. The InitPlan on `retired` makes the UPDATE finish before the first insert, and a
# row version this statement has just updated no longer conflicts, as in the job's two steps.
CALCULATE_BADGES = """
WITH zoned AS (
    SELECT id, timezone FROM cafes WHERE timezone IN (SELECT name FROM pg_timezone_names)
),
retired AS (
    UPDATE badges SET is_active = false, updated_at = now()
    WHERE is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s
      AND type IN ('EARLY_BIRD', 'NIGHT_OWL', 'SOCIAL_BUTTERFLY', 'FREQUENT_VISITOR')
    RETURNING 1
),
per_user AS (
    SELECT s.user_id,
           bool_or(s.started_at >= %(now)s - interval '48 hours'
                   AND l.t >= '05:00' AND l.t < '08:00') AS early,
           bool_or(s.started_at >= %(now)s - interval '48 hours'
                   AND (l.t >= '22:00' OR l.t < '04:00')) AS night,
           count(DISTINCT l.d) >= 5 AS frequent
    FROM user_sessions AS s
    JOIN users AS u ON u.id = s.user_id AND u.is_active
    JOIN zoned AS z ON z.id = u.cafe_id,
         LATERAL (SELECT (s.started_at AT TIME ZONE z.timezone)::time AS t,
                         (s.started_at AT TIME ZONE z.timezone)::date AS d) AS l
    WHERE s.started_at >= %(now)s - interval '30 days' AND s.started_at <= %(now)s
    GROUP BY s.user_id
),
qualified AS (
    SELECT user_id, 'EARLY_BIRD' AS type, 'Early Bird' AS name, interval '7 days' AS life
    FROM per_user WHERE early
    UNION ALL
    SELECT user_id, 'NIGHT_OWL', 'Night Owl', interval '7 days' FROM per_user WHERE night
    UNION ALL
    SELECT user_id, 'FREQUENT_VISITOR', 'Frequent Visitor', interval '60 days'
    FROM per_user WHERE frequent
    UNION ALL
    SELECT p.from_user_id, 'SOCIAL_BUTTERFLY', 'Social Butterfly', interval '30 days'
    FROM pokes AS p JOIN users AS u ON u.id = p.from_user_id AND u.is_active
    WHERE p.created_at >= %(now)s - interval '7 days' AND p.created_at <= %(now)s
    GROUP BY p.from_user_id HAVING count(*) >= 10
),
awarded AS (
    INSERT INTO badges (user_id, type, name, description, expires_at)
    SELECT user_id, type, name, name, %(now)s + life FROM qualified
    WHERE (SELECT count(*) FROM retired) >= 0
    ON CONFLICT (user_id, type) WHERE is_active DO NOTHING
    RETURNING 1
)
SELECT count(*) AS rows FROM awarded
"""


def calculate_badges(conn: Conn, now: datetime) -> int:
    return _one(conn, CALCULATE_BADGES, {"now": now})


def aggregate_analytics(conn: Conn, now: datetime) -> int:
    """The job's compute statement over the whole window and every active café, then its
    upsert statement over every row at once: one transaction, no batches, no cache. (The
    window comes from one index probe beforehand.)"""
    newest = conn.execute(load_sql("aggregate_analytics_newest")).fetchone()
    newest_hour = newest["newest"] if newest else None
    start, end = window(now, newest_hour, AnalyticsConfig().max_backfill_hours)
    with conn.transaction():
        conn.execute(f"SET LOCAL work_mem = '{COMPUTE_WORK_MEM}'")
        conn.execute(
            "CREATE TEMPORARY TABLE analytics_computed ON COMMIT DROP AS "
            + load_sql("aggregate_analytics_compute"),
            {"start": start, "end": end},
        )
        rows = conn.execute(
            load_sql("aggregate_analytics"), {"after": 0, "batch": 2**62}
        ).fetchall()
    return sum(1 for row in rows if row["outcome"] != "unchanged")


BOUNDS: dict[str, Bound] = {
    "expireUsers": expire_users,
    "expireBadges": expire_badges,
    "expirePokes": expire_pokes,
    "calculateBadges": calculate_badges,
    "aggregateAnalytics": aggregate_analytics,
}
