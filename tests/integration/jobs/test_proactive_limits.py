"""proactiveMessages: rate limits from agent_messages, one poster per café, local-time triggers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from brewd.jobs.base import JobResult
from brewd.jobs.proactive import messages as proactive_messages
from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.integration.jobs.proactive_world import (
    add_cafe,
    add_pokes,
    add_users,
    make_ctx,
    posts,
    private_redis,
    writer_for,
)

NOW = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def fake() -> Iterator[FakeClaudeAPI]:
    with FakeClaudeAPI() as api:
        yield api


def _seed(pg, cafe, *times):
    for at in times:
        pg.execute(
            "INSERT INTO agent_messages (cafe_id, message_type, content, context_data, created_at)"
            " VALUES (%s, 'PROACTIVE', 'earlier', '{}', %s)",
            (cafe, at),
        )


def test_ten_minute_limit_holds_across_runs_restarts_and_flushall(pg, pg_dsn, tmp_path, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    with private_redis(tmp_path) as redis_a:
        first = proactive_messages.run(make_ctx(pg, redis_a, NOW, claude=writer_for(fake.base_url)))
        second = proactive_messages.run(make_ctx(pg, redis_a, NOW + 5 * MINUTE))
        assert redis_a.flushall()
        assert redis_a.dbsize() == 0
        # A restart: a new connection, a new writer, a new context, an empty Redis.
        with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as conn:
            restarted = make_ctx(conn, redis_a, NOW + 10 * MINUTE - timedelta(seconds=1))
            third = proactive_messages.run(restarted)
            fourth = proactive_messages.run(make_ctx(conn, redis_a, NOW + 10 * MINUTE))
    assert [r.affected_records for r in (first, second, third, fourth)] == [1, 0, 0, 1]
    assert second.message.endswith("skipped 1 café: 1 rate-limited")
    assert [row["created_at"] for row in posts(pg, cafe)] == [NOW, NOW + 10 * MINUTE]


def test_daily_limit_counts_the_local_day_and_survives_flushall(pg, tmp_path):
    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2024, 1, 15, 23, 30, tzinfo=tokyo)  # 14:30 UTC, a different UTC date
    cafe = add_cafe(pg, tz="Asia/Tokyo")
    add_users(pg, cafe, 3, now)
    midnight = datetime(2024, 1, 15, 0, 0, tzinfo=tokyo)
    _seed(pg, cafe, *(midnight + i * MINUTE for i in range(59)))  # 59 today, from 00:00
    _seed(pg, cafe, midnight - MINUTE)  # yesterday, local: does not count
    with private_redis(tmp_path) as redis_a:
        assert proactive_messages.run(make_ctx(pg, redis_a, now)).affected_records == 1
        redis_a.flushall()
        held = proactive_messages.run(make_ctx(pg, redis_a, now + 20 * MINUTE))
        assert held.message.endswith("skipped 1 café: 1 daily limit")
        next_day = proactive_messages.run(make_ctx(pg, redis_a, now + 30 * MINUTE))
    assert next_day.affected_records == 1  # 00:00 in Tokyo: a new local day
    assert len(posts(pg, cafe)) == 62


def test_limits_are_configurable(pg, cache):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    runs = [
        proactive_messages.run(
            make_ctx(pg, cache, NOW + i * MINUTE, min_interval=60, daily_limit=2)
        )
        for i in range(4)
    ]
    assert [r.affected_records for r in runs] == [1, 1, 0, 0]


def test_two_nodes_at_the_same_moment_post_once_per_cafe(pg, pg_dsn, cache, fake):
    cafes = [add_cafe(pg, name=f"Cafe {i}") for i in range(4)]
    for cafe in cafes:
        add_users(pg, cafe, 2, NOW)
    # A slow API, so both nodes have planned and drafted before either records.
    fake.default = Reply(delay=0.3)
    start = threading.Barrier(2)
    results: list[JobResult] = []

    def node() -> None:
        with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as conn:
            ctx = make_ctx(conn, cache, NOW, claude=writer_for(fake.base_url))
            start.wait(timeout=10)
            results.append(proactive_messages.run(ctx))

    threads = [threading.Thread(target=node) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sum(r.affected_records for r in results) == 4
    assert [len(posts(pg, cafe)) for cafe in cafes] == [1, 1, 1, 1]
    assert fake.calls == 8  # both drafted: the lock and the re-check are what stopped the second


ADELAIDE = "Australia/Adelaide"  # +10:30 in January (DST), +09:30 in July


# Each trigger hour's first and last minute, and the minutes just outside: (h, m, trigger, band).
BOUNDARIES = [
    (5, 59, None, "night"),
    (6, 0, "morning", "morning"),
    (9, 59, "morning", "morning"),
    (10, 0, None, "late morning"),
    (11, 59, None, "late morning"),
    (12, 0, "lunch", "lunchtime"),
    (13, 59, "lunch", "lunchtime"),
    (14, 0, None, "afternoon"),
    (16, 59, None, "afternoon"),
    (17, 0, "after_work", "after work"),
    (19, 59, "after_work", "after work"),
    (20, 0, None, "evening"),
    (0, 0, None, "night"),
]


@pytest.mark.parametrize(("zone", "month"), [("Asia/Tokyo", 1), (ADELAIDE, 1), (ADELAIDE, 7)])
def test_time_triggers_and_bands_follow_the_cafe_zone(pg, cache, fake, zone, month):
    seen = []
    for hour, minute, _, _ in BOUNDARIES:
        now = datetime(2024, month, 15, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        cafe = add_cafe(pg, name=f"At {hour}:{minute}", tz=zone)
        add_pokes(pg, add_users(pg, cafe, 3, now), 1, now - MINUTE)  # no other trigger applies
        calls = fake.calls
        proactive_messages.run(make_ctx(pg, cache, now, claude=writer_for(fake.base_url)))
        data = [row["context_data"] for row in posts(pg, cafe)]
        prompt = fake.bodies[-1]["messages"][0]["content"] if fake.calls > calls else ""
        band = prompt.split("Local time of day: ")[1].split("\n")[0] if prompt else None
        seen.append((hour, minute, data[0]["trigger"] if data else None, band))
        assert [d["localHour"] for d in data] == ([hour] if data else [])
        pg.execute("UPDATE cafes SET enable_proactive_messages = false WHERE id = %s", (cafe,))
    assert seen == [(h, m, t, b if t else None) for h, m, t, b in BOUNDARIES]


@pytest.mark.parametrize(
    ("users", "pokes", "trigger"),
    [
        (2, 6, "poke_frenzy"),
        (7, 6, "poke_frenzy"),
        (5, 5, "crowd"),
        (2, 5, "duo"),
        (3, 0, "ice_breaker"),
        (4, 0, "ice_breaker"),
    ],
)
def test_activity_triggers(pg, cache, users, pokes, trigger):
    cafe = add_cafe(pg)
    ids = add_users(pg, cafe, users, NOW)
    add_pokes(pg, ids, pokes, NOW - 29 * MINUTE)
    proactive_messages.run(make_ctx(pg, cache, NOW))
    assert posts(pg, cafe)[0]["context_data"]["trigger"] == trigger


def test_only_open_sessions_of_live_users_and_the_last_30_minutes_count(pg, cache):
    cafe = add_cafe(pg)
    here = add_users(pg, cafe, 2, NOW)
    gone = add_users(pg, cafe, 3, NOW, prefix="gone")
    pg.execute("UPDATE user_sessions SET ended_at = %s WHERE user_id = ANY(%s)", (NOW, gone[:1]))
    pg.execute("UPDATE users SET is_active = false WHERE id = %s", (gone[1],))
    pg.execute("UPDATE users SET expires_at = %s WHERE id = %s", (NOW, gone[2]))
    add_users(pg, cafe, 2, NOW, prefix="idle", session=False)
    other = add_cafe(pg, name="Elsewhere", enabled=False)
    add_pokes(pg, add_users(pg, other, 2, NOW), 9, NOW - MINUTE)  # another café's pokes
    add_pokes(pg, here, 9, NOW - 31 * MINUTE)  # too old
    proactive_messages.run(make_ctx(pg, cache, NOW))
    data = posts(pg, cafe)[0]["context_data"]
    assert (data["activeUsers"], data["recentPokes"], data["trigger"]) == (2, 0, "duo")
