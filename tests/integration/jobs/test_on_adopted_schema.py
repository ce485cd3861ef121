"""Every job on a database adopted from the original schema (SPEC §10): naive `timestamp`
columns written in America/New_York (the database's TimeZone), cafés in Asia/Tokyo. Each test
would give a different answer if a naive time were read as UTC or converted the wrong way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import redis

from brewd.jobs import (
    aggregate_analytics,
    calculate_badges,
    expire_badges,
    expire_pokes,
    expire_users,
)
from brewd.jobs.base import JobContext
from brewd.jobs.proactive import messages as proactive_messages
from tests.integration.jobs.expiry_rows import make_ctx
from tests.integration.jobs.proactive_world import make_ctx as proactive_ctx
from tests.integration.jobs.world_rows import badge_types, context, message, session, user

Conn = psycopg.Connection[dict[str, Any]]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 in New York (EDT), 21:00 in Tokyo
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def legacy_cafe(pg: Conn, timezone: str = "Asia/Tokyo", *, proactive: bool = False) -> UUID:
    row = pg.execute(
        "INSERT INTO cafes (name, location, timezone, enable_proactive_messages)"
        " VALUES ('Kissa', 'Tokyo', %s, %s) RETURNING id",
        (timezone, proactive),
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def instant(pg: Conn, query: str, params: tuple[Any, ...]) -> datetime:
    """A time column read back as an instant (in the session's zone, the legacy one)."""
    row = pg.execute(query, params).fetchone()
    assert row is not None
    value: datetime = row["t"]
    return value.astimezone(UTC)


def test_the_fixture_stores_new_york_wall_clock(legacy_pg: Conn) -> None:
    cafe = legacy_cafe(legacy_pg)
    uid = user(legacy_pg, cafe, created=NOW, expires=NOW + HOUR)
    wall = legacy_pg.execute("SELECT created_at FROM users WHERE id = %s", (uid,)).fetchone()
    assert wall == {"created_at": datetime(2026, 3, 10, 8, 0)}  # naive, New York time


def test_expire_users_at_the_right_instant(legacy_pg: Conn, redis_url: str) -> None:
    cafe = legacy_cafe(legacy_pg)
    gone = user(legacy_pg, cafe, created=NOW - HOUR, expires=NOW - MINUTE)
    # Read as UTC, 08:01 would be four hours past: it must stay.
    stays = user(legacy_pg, cafe, created=NOW - HOUR, expires=NOW + MINUTE)
    session(legacy_pg, gone, NOW - 30 * MINUTE)
    assert expire_users.run(make_ctx(legacy_pg, redis_url, now=NOW)).affected_records == 1
    active = legacy_pg.execute("SELECT id FROM users WHERE is_active").fetchall()
    assert [row["id"] for row in active] == [stays]
    closed = instant(
        legacy_pg,
        "SELECT ended_at::timestamptz AS t FROM user_sessions WHERE user_id = %s",
        (gone,),
    )
    assert closed == NOW - MINUTE


def test_expire_badges_at_the_right_instant(legacy_pg: Conn, redis_url: str) -> None:
    uid = user(legacy_pg, legacy_cafe(legacy_pg), created=NOW - HOUR, expires=NOW + HOUR)
    insert = "INSERT INTO badges (user_id, type, name, expires_at) VALUES (%s, %s, 'b', %s)"
    legacy_pg.execute(insert, (uid, "EARLY_BIRD", NOW - MINUTE))
    legacy_pg.execute(insert, (uid, "NIGHT_OWL", NOW + MINUTE))
    assert expire_badges.run(make_ctx(legacy_pg, redis_url, now=NOW)).affected_records == 1
    assert badge_types(legacy_pg, uid) == {"NIGHT_OWL"}


def test_expire_pokes_at_the_right_instant(legacy_pg: Conn, redis_url: str) -> None:
    cafe = legacy_cafe(legacy_pg)
    a = user(legacy_pg, cafe, created=NOW - HOUR, expires=NOW + HOUR)
    b = user(legacy_pg, cafe, created=NOW - HOUR, expires=NOW + HOUR)
    insert = "INSERT INTO pokes (from_user_id, to_user_id, expires_at) VALUES (%s, %s, %s)"
    legacy_pg.execute(insert, (a, b, NOW - MINUTE))
    legacy_pg.execute(insert, (b, a, NOW + MINUTE))
    assert expire_pokes.run(make_ctx(legacy_pg, redis_url, now=NOW)).affected_records == 1
    live = legacy_pg.execute("SELECT from_user_id FROM pokes WHERE expired_at IS NULL").fetchall()
    assert [row["from_user_id"] for row in live] == [b]


def test_calculate_badges_judges_the_cafes_local_hour(legacy_pg: Conn, cache: redis.Redis) -> None:
    cafe = legacy_cafe(legacy_pg, "Asia/Tokyo")
    uid = user(legacy_pg, cafe, created=NOW - 2 * HOUR * 24, expires=NOW + HOUR)
    # 06:30 in Tokyo (21:30 UTC, 17:30 New York): early, whatever the database's zone.
    session(legacy_pg, uid, NOW - 14 * HOUR - 30 * MINUTE, NOW - 14 * HOUR)
    calculate_badges.run(context(legacy_pg, cache, NOW))
    assert badge_types(legacy_pg, uid) == {"EARLY_BIRD"}
    expires = instant(
        legacy_pg, "SELECT expires_at::timestamptz AS t FROM badges WHERE user_id = %s", (uid,)
    )
    assert expires == NOW + timedelta(days=7)
    assert calculate_badges.run(context(legacy_pg, cache, NOW)).affected_records == 0


def test_aggregate_analytics_counts_utc_hours_and_keeps_the_originals_rows(
    legacy_pg: Conn, cache: redis.Redis
) -> None:
    cafe = legacy_cafe(legacy_pg)
    # The original's rows: hour 10 of today and a late local hour that, read as UTC, would be
    # "newest" and wreck the window. Marked from_original by the adoption.
    legacy_pg.execute("ALTER TABLE analytics ALTER COLUMN from_original SET DEFAULT true")
    legacy_pg.execute(
        "INSERT INTO analytics (cafe_id, date, hour, total_users, active_users)"
        " VALUES (%s, '2026-03-10', 10, 7, 3), (%s, '2026-03-10', 23, 9, 4)",
        (cafe, cafe),
    )
    legacy_pg.execute("ALTER TABLE analytics ALTER COLUMN from_original SET DEFAULT false")
    before = legacy_pg.execute("SELECT * FROM analytics ORDER BY hour").fetchall()
    uid = user(legacy_pg, cafe, created=NOW - 5 * HOUR, expires=NOW + 5 * HOUR)
    session(legacy_pg, uid, NOW - 50 * MINUTE, NOW - 20 * MINUTE)  # 11:10-11:40 UTC
    message(legacy_pg, uid, NOW - 40 * MINUTE)
    ctx = context(legacy_pg, cache, NOW + 5 * MINUTE)
    aggregate_analytics.run(ctx)
    rows = legacy_pg.execute(
        "SELECT hour, total_users, active_users, total_messages, average_session_duration,"
        " peak_concurrent_users FROM analytics WHERE NOT from_original ORDER BY hour"
    ).fetchall()
    assert rows == [
        {"hour": 9, "total_users": 1, "active_users": 0, "total_messages": 0,
         "average_session_duration": 0.0, "peak_concurrent_users": 0},
        {"hour": 11, "total_users": 1, "active_users": 1, "total_messages": 1,
         "average_session_duration": 1800.0, "peak_concurrent_users": 1},
    ]  # fmt: skip
    original = legacy_pg.execute(
        "SELECT * FROM analytics WHERE from_original ORDER BY hour"
    ).fetchall()
    assert original == before
    aggregate_analytics.run(context(legacy_pg, cache, NOW + 5 * MINUTE))
    assert (
        legacy_pg.execute("SELECT * FROM analytics WHERE from_original ORDER BY hour").fetchall()
        == before
    )


def test_proactive_limit_reads_the_originals_naive_post_time(
    legacy_pg: Conn, cache: redis.Redis
) -> None:
    cafe = legacy_cafe(legacy_pg, proactive=True)
    for n in range(3):
        uid = user(legacy_pg, cafe, created=NOW - HOUR, expires=NOW + HOUR, name=f"p{n}")
        session(legacy_pg, uid, NOW - HOUR)
    # The original posted five minutes ago; its created_at is New York wall-clock.
    legacy_pg.execute(
        "INSERT INTO agent_messages (cafe_id, message_type, content, created_at)"
        " VALUES (%s, 'PROACTIVE', 'earlier', %s)",
        (cafe, NOW - 5 * MINUTE),
    )

    def ctx(now: datetime) -> JobContext:
        return proactive_ctx(legacy_pg, cache, now)

    held = proactive_messages.run(ctx(NOW))
    assert held.affected_records == 0
    assert held.message.endswith("1 rate-limited")
    posted = proactive_messages.run(ctx(NOW + 5 * MINUTE))
    assert posted.affected_records == 1
    newest = instant(
        legacy_pg,
        "SELECT max(created_at)::timestamptz AS t FROM agent_messages WHERE cafe_id = %s",
        (cafe,),
    )
    assert newest == NOW + 5 * MINUTE
    assert proactive_messages.run(ctx(NOW + 6 * MINUTE)).affected_records == 0
