"""expireUsers against real PostgreSQL and Redis: rules, batches, stop, fence, cache failures."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
import redis

from brewd.adapters import cache as keys
from brewd.core.errors import FenceLost, JobCancelled
from brewd.jobs import ALL_JOBS, expire_users
from brewd.jobs.base import JobResult, load_sql
from brewd.jobs.batches import WALK_START
from tests.integration.jobs.expiry_rows import (
    NOW,
    US,
    Conn,
    FenceAfter,
    StopAfter,
    add_cafe,
    add_session,
    add_user,
    closed_port_url,
    make_ctx,
    one,
    snapshot,
    uses_index,
)

HOUR = timedelta(hours=1)


def active(pg: Conn) -> int:
    return one(pg, "SELECT count(*) FROM users WHERE is_active")


def test_registered_under_its_api_name() -> None:
    assert ALL_JOBS["expireUsers"] is expire_users


def test_expires_users_at_or_before_now_only(pg: Conn, redis_url: str) -> None:
    cafe = add_cafe(pg)
    at_now = add_user(pg, cafe, NOW)
    past = add_user(pg, cafe, NOW - HOUR)
    just_after = add_user(pg, cafe, NOW + US)
    already = add_user(pg, cafe, NOW - 2 * HOUR, is_active=False)
    before = one(pg, "SELECT updated_at FROM users WHERE id = %s", (already,))

    result = expire_users.run(make_ctx(pg, redis_url))

    assert result.affected_records == 2
    states = {r["id"]: r["is_active"] for r in pg.execute("SELECT id, is_active FROM users")}
    assert states == {at_now: False, past: False, just_after: True, already: False}
    # Already inactive users are not written again.
    assert one(pg, "SELECT updated_at FROM users WHERE id = %s", (already,)) == before
    # The same user, judged a microsecond before its expiry, is still live.
    fresh = add_user(pg, cafe, NOW)
    assert expire_users.run(make_ctx(pg, redis_url, now=NOW - US)).affected_records == 0
    assert one(pg, "SELECT is_active FROM users WHERE id = %s", (fresh,)) is True


def test_closes_open_sessions_at_the_users_expiry(pg: Conn, redis_url: str) -> None:
    cafe = add_cafe(pg)
    gone = add_user(pg, cafe, NOW - HOUR)
    stays = add_user(pg, cafe, NOW + HOUR)
    open_ = add_session(pg, gone, NOW - 3 * HOUR)
    closed = add_session(pg, gone, NOW - 5 * HOUR, NOW - 4 * HOUR)
    # Started after the user's expiry: closed at its own start, never before it.
    late = add_session(pg, gone, NOW - HOUR / 2)
    other = add_session(pg, stays, NOW - 2 * HOUR)

    result = expire_users.run(make_ctx(pg, redis_url))

    query = "SELECT id, ended_at::timestamptz AS ended_at FROM user_sessions"
    ended = {r["id"]: r["ended_at"] for r in pg.execute(query)}
    assert ended == {
        open_: NOW - HOUR,
        closed: NOW - 4 * HOUR,
        late: NOW - HOUR / 2,
        other: None,
    }
    assert "closed 2 sessions" in result.message
    bad = one(pg, "SELECT count(*) FROM user_sessions WHERE ended_at < started_at")
    assert bad == 0


def test_cache_forgets_expired_users_and_recounts_each_cafe(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    paris, tokyo = add_cafe(pg, "Europe/Paris"), add_cafe(pg, "Asia/Tokyo")
    gone = add_user(pg, paris, NOW - HOUR, username="ana")
    kept = add_user(pg, paris, NOW + HOUR, username="ben")
    last = add_user(pg, tokyo, NOW - HOUR, username="kei")
    for user, cafe, name in ((gone, paris, "ana"), (kept, paris, "ben"), (last, tokyo, "kei")):
        cache.set(keys.user(user), "{}")
        cache.set(keys.cafe_username(cafe, name), str(user))
        cache.sadd(keys.cafe_active_users(cafe), str(user))
    # Counts that drifted (the original decremented blindly) are replaced, not adjusted.
    cache.set(keys.cafe_active_user_count(paris), "-3")
    cache.set(keys.cafe_active_user_count(tokyo), "7")

    result = expire_users.run(make_ctx(pg, redis_url))

    assert "recounted 2 cafés" in result.message
    assert not cache.exists(keys.user(gone), keys.user(last))
    assert not cache.exists(keys.cafe_username(paris, "ana"), keys.cafe_username(tokyo, "kei"))
    assert cache.get(keys.user(kept)) == "{}"
    assert cache.get(keys.cafe_username(paris, "ben")) == str(kept)
    assert cache.smembers(keys.cafe_active_users(paris)) == {str(kept)}
    assert cache.smembers(keys.cafe_active_users(tokyo)) == set()
    assert cache.get(keys.cafe_active_user_count(paris)) == "1"
    assert cache.get(keys.cafe_active_user_count(tokyo)) == "0"


def test_second_run_changes_nothing(pg: Conn, redis_url: str, cache: redis.Redis) -> None:
    cafe = add_cafe(pg)
    for hours in (1, 2, 3):
        add_session(pg, add_user(pg, cafe, NOW - hours * HOUR), NOW - 5 * HOUR)
    assert expire_users.run(make_ctx(pg, redis_url)).affected_records == 3
    users, sessions = snapshot(pg, "users"), snapshot(pg, "user_sessions")
    cache.set(keys.cafe_active_user_count(cafe), "0")

    again = expire_users.run(make_ctx(pg, redis_url))

    assert (again.affected_records, again.message) == (0, "no users to expire")
    assert snapshot(pg, "users") == users
    assert snapshot(pg, "user_sessions") == sessions


def test_works_through_a_backlog_in_batches(pg: Conn, redis_url: str, cache: redis.Redis) -> None:
    cafe = add_cafe(pg)
    for minutes in range(10):
        add_user(pg, cafe, NOW - timedelta(minutes=minutes + 1))
    add_user(pg, cafe, NOW + HOUR)

    result = expire_users.run(make_ctx(pg, redis_url, batch_size=3))

    assert result.affected_records == 10
    assert "in 4 batches" in result.message
    assert active(pg) == 1
    assert cache.get(keys.cafe_active_user_count(cafe)) == "1"


def test_stop_flag_between_batches_keeps_committed_batches(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    cafe = add_cafe(pg)
    users = [add_user(pg, cafe, NOW - timedelta(minutes=10 - i)) for i in range(10)]

    with pytest.raises(JobCancelled):
        expire_users.run(make_ctx(pg, redis_url, batch_size=3, should_stop=StopAfter(1)))

    inactive = {r["id"] for r in pg.execute("SELECT id FROM users WHERE NOT is_active")}
    assert inactive == set(users[:3])  # the oldest expiries, in the one committed batch
    assert cache.get(keys.cafe_active_user_count(cafe)) == "7"  # recounted after the stop
    result = expire_users.run(make_ctx(pg, redis_url, batch_size=3))
    assert result.affected_records == 7
    assert active(pg) == 0
    assert cache.get(keys.cafe_active_user_count(cafe)) == "0"


def test_lost_fence_rolls_back_the_batch(pg: Conn, redis_url: str, cache: redis.Redis) -> None:
    cafe = add_cafe(pg)
    for i in range(10):
        add_session(pg, add_user(pg, cafe, NOW - timedelta(minutes=i + 1)), NOW - 2 * HOUR)
    cache.set(keys.cafe_active_user_count(cafe), "10")

    with pytest.raises(FenceLost):
        expire_users.run(make_ctx(pg, redis_url, batch_size=3, fence=FenceAfter(0)))

    assert active(pg) == 10
    assert one(pg, "SELECT count(*) FROM user_sessions WHERE ended_at IS NULL") == 10
    assert cache.get(keys.cafe_active_user_count(cafe)) == "10"

    with pytest.raises(FenceLost):
        expire_users.run(make_ctx(pg, redis_url, batch_size=3, fence=FenceAfter(1)))

    assert active(pg) == 7  # the first batch committed; the second rolled back whole
    assert one(pg, "SELECT count(*) FROM user_sessions WHERE ended_at IS NULL") == 7


def test_redis_down_completes_the_database_work_and_the_next_run_repairs(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    cafe = add_cafe(pg)
    add_user(pg, cafe, NOW - HOUR)
    add_user(pg, cafe, NOW + HOUR)
    add_user(pg, cafe, NOW + 2 * HOUR)
    cache.set(keys.cafe_active_user_count(cafe), "3")

    down = expire_users.run(make_ctx(pg, closed_port_url()))

    assert down.affected_records == 1
    assert "cache update failed: redis: ConnectionError" in down.message
    assert active(pg) == 2
    assert cache.get(keys.cafe_active_user_count(cafe)) == "3"  # stale while Redis was away

    later = NOW + HOUR
    back = expire_users.run(make_ctx(pg, redis_url, now=later))

    assert back.affected_records == 1
    assert "cache update failed" not in back.message
    assert cache.get(keys.cafe_active_user_count(cafe)) == "1"  # a recount, not 3 - 1


def test_usernames_that_look_like_sql_are_only_data(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    cafe = add_cafe(pg)
    name = "x'); DROP TABLE users; --"
    user = add_user(pg, cafe, NOW - HOUR, username=name)
    cache.set(keys.cafe_username(cafe, name), str(user))

    assert expire_users.run(make_ctx(pg, redis_url)).affected_records == 1

    assert one(pg, "SELECT username FROM users WHERE id = %s", (user,)) == name
    assert not cache.exists(keys.cafe_username(cafe, name))


def test_statements_use_the_partial_indexes(pg: Conn) -> None:
    params = {"now": NOW, "batch": 10, "after": WALK_START}
    expire = load_sql("expire_users")
    assert uses_index(pg, expire, params, "users_live_expires_at_idx")
    assert uses_index(pg, expire, params, "user_sessions_open_user_idx")
    recount = load_sql("expire_users_recount")
    assert uses_index(pg, recount, {"cafes": [add_cafe(pg)]}, "users_cafe_active_idx")


def test_a_user_renewed_during_the_batch_is_left_alone(
    pg: Conn, pg_dsn: str, redis_url: str
) -> None:
    cafe = add_cafe(pg)
    renewed = add_user(pg, cafe, NOW - HOUR)
    expired = add_user(pg, cafe, NOW - 2 * HOUR)
    results: list[JobResult] = []
    with psycopg.connect(pg_dsn) as api, psycopg.connect(pg_dsn, autocommit=True) as watch:
        # An API server renews the user; its transaction is still open when the job runs.
        api.execute("UPDATE users SET expires_at = %s WHERE id = %s", (NOW + HOUR, renewed))
        worker = threading.Thread(
            target=lambda: results.append(expire_users.run(make_ctx(pg, redis_url)))
        )
        worker.start()
        deadline = time.monotonic() + 10
        waiting = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        while watch.execute(waiting).fetchone() != (1,):
            assert time.monotonic() < deadline, "the job never waited for the renewal"
        api.commit()
        worker.join(timeout=10)
    assert [r.affected_records for r in results] == [1]
    states = {r["id"]: r["is_active"] for r in pg.execute("SELECT id, is_active FROM users")}
    assert states == {renewed: True, expired: False}
