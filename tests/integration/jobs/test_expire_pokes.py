"""expirePokes against real PostgreSQL and Redis: soft expiry, cache recounts, purge, batches."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
import redis

from brewd.adapters import cache as keys
from brewd.core.errors import JobCancelled
from brewd.jobs import ALL_JOBS, expire_pokes
from brewd.jobs.base import load_sql
from brewd.jobs.batches import WALK_START
from tests.integration.jobs.expiry_rows import (
    NOW,
    US,
    Conn,
    StopAfter,
    add_cafe,
    add_poke,
    add_user,
    closed_port_url,
    make_ctx,
    one,
    snapshot,
    uses_index,
)

DAY = timedelta(days=1)


def people(pg: Conn, count: int) -> list[UUID]:
    cafe = add_cafe(pg)
    return [add_user(pg, cafe, NOW + DAY) for _ in range(count)]


def expired_at(pg: Conn) -> dict[UUID, object]:
    return {r["id"]: r["expired_at"] for r in pg.execute("SELECT id, expired_at FROM pokes")}


def test_registered_under_its_api_name() -> None:
    assert ALL_JOBS["expirePokes"] is expire_pokes


def test_soft_expires_live_pokes_at_or_before_now(pg: Conn, redis_url: str) -> None:
    ana, ben = people(pg, 2)
    at_now = add_poke(pg, ana, ben, NOW)
    past = add_poke(pg, ben, ana, NOW - DAY)
    just_after = add_poke(pg, ana, ben, NOW + US)
    earlier = add_poke(pg, ana, ben, NOW - 2 * DAY, expired_at=NOW - DAY)

    result = expire_pokes.run(make_ctx(pg, redis_url))

    assert result.affected_records == 2
    assert expired_at(pg) == {at_now: NOW, past: NOW, just_after: None, earlier: NOW - DAY}
    # Judged a microsecond before, a poke expiring at `now` is still live.
    fresh = add_poke(pg, ana, ben, NOW)
    assert expire_pokes.run(make_ctx(pg, redis_url, now=NOW - US)).affected_records == 0
    assert expired_at(pg)[fresh] is None


def test_cache_drops_both_sides_lists_and_recounts_senders(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    ana, ben, cleo, dan = people(pg, 4)
    add_poke(pg, ana, ben, NOW - DAY)  # expires now
    add_poke(pg, ana, cleo, NOW + DAY)  # stays live: ana still has 1
    add_poke(pg, cleo, ana, NOW - DAY)  # expires now: cleo has none left
    add_poke(pg, dan, ben, NOW + DAY)  # untouched sender
    for user in (ana, ben, cleo, dan):
        cache.set(keys.user_pokes_sent(user), "[...]")
        cache.set(keys.user_pokes_received(user), "[...]")
    # The original decremented and drifted below zero; a recount replaces whatever is there.
    cache.set(keys.user_poke_count(ana), "-2")
    cache.set(keys.user_poke_count(cleo), "5")
    cache.set(keys.user_poke_count(dan), "1")

    assert expire_pokes.run(make_ctx(pg, redis_url)).affected_records == 2

    for user in (ana, ben, cleo):
        assert not cache.exists(keys.user_pokes_sent(user), keys.user_pokes_received(user))
    assert cache.get(keys.user_pokes_sent(dan)) == "[...]"
    assert cache.get(keys.user_poke_count(ana)) == "1"
    assert cache.get(keys.user_poke_count(cleo)) == "0"
    assert cache.get(keys.user_poke_count(dan)) == "1"
    assert not cache.exists(keys.user_poke_count(ben))  # ben sent nothing that expired


def test_purges_pokes_expired_longer_ago_than_the_retention(pg: Conn, redis_url: str) -> None:
    ana, ben = people(pg, 2)
    cutoff = NOW - 8 * DAY
    gone = add_poke(pg, ana, ben, cutoff - DAY, expired_at=cutoff - US)
    edge = add_poke(pg, ana, ben, cutoff - DAY, expired_at=cutoff)
    recent = add_poke(pg, ana, ben, NOW - 2 * DAY, expired_at=NOW - 2 * DAY)
    # Live pokes are never purged, however old their expiry (they are expired first).
    stale_live = add_poke(pg, ana, ben, NOW - 30 * DAY)

    result = expire_pokes.run(make_ctx(pg, redis_url))

    assert result.affected_records == 1
    assert "purged 1 expired more than 8 days ago" in result.message
    assert set(expired_at(pg)) == {edge, recent, stale_live}
    assert gone not in expired_at(pg)


def test_retention_is_configurable(pg: Conn, redis_url: str) -> None:
    ana, ben = people(pg, 2)
    nine = add_poke(pg, ana, ben, NOW - 10 * DAY, expired_at=NOW - 9 * DAY)
    eleven = add_poke(pg, ana, ben, NOW - 12 * DAY, expired_at=NOW - 11 * DAY)

    result = expire_pokes.run(make_ctx(pg, redis_url, retention_days=10))

    assert "purged 1 expired more than 10 days ago" in result.message
    assert set(expired_at(pg)) == {nine}
    assert eleven not in expired_at(pg)


def test_second_run_changes_nothing(pg: Conn, redis_url: str) -> None:
    ana, ben = people(pg, 2)
    add_poke(pg, ana, ben, NOW - DAY)
    add_poke(pg, ana, ben, NOW - 20 * DAY, expired_at=NOW - 19 * DAY)
    expire_pokes.run(make_ctx(pg, redis_url))
    before = snapshot(pg, "pokes")

    again = expire_pokes.run(make_ctx(pg, redis_url))

    assert (again.affected_records, again.message) == (0, "no pokes to expire or purge")
    assert snapshot(pg, "pokes") == before


def test_batches_stop_and_finish(pg: Conn, redis_url: str, cache: redis.Redis) -> None:
    ana, ben = people(pg, 2)
    for i in range(10):
        add_poke(pg, ana, ben, NOW - timedelta(minutes=i + 1))
        add_poke(pg, ben, ana, NOW - 20 * DAY, expired_at=NOW - 10 * DAY - timedelta(minutes=i))
    add_poke(pg, ana, ben, NOW + DAY)

    with pytest.raises(JobCancelled):
        expire_pokes.run(make_ctx(pg, redis_url, batch_size=3, should_stop=StopAfter(1)))
    assert one(pg, "SELECT count(*) FROM pokes WHERE expired_at = %s", (NOW,)) == 3
    assert cache.get(keys.user_poke_count(ana)) == "8"  # the committed batch's recount

    result = expire_pokes.run(make_ctx(pg, redis_url, batch_size=3))

    assert result.affected_records == 7
    assert "purged 10" in result.message
    assert one(pg, "SELECT count(*) FROM pokes") == 11
    assert cache.get(keys.user_poke_count(ana)) == "1"


def test_redis_down_then_the_next_run_repairs_the_count(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    ana, ben = people(pg, 2)
    add_poke(pg, ana, ben, NOW - DAY)
    add_poke(pg, ana, ben, NOW + DAY / 2)
    add_poke(pg, ana, ben, NOW + 2 * DAY)
    cache.set(keys.user_poke_count(ana), "3")

    down = expire_pokes.run(make_ctx(pg, closed_port_url()))

    assert down.affected_records == 1
    assert "cache update failed: redis: ConnectionError" in down.message
    assert cache.get(keys.user_poke_count(ana)) == "3"

    back = expire_pokes.run(make_ctx(pg, redis_url, now=NOW + DAY))

    assert back.affected_records == 1
    assert cache.get(keys.user_poke_count(ana)) == "1"  # a recount, not 3 - 1


def test_statements_use_the_partial_indexes(pg: Conn) -> None:
    batch = {"now": NOW, "batch": 10, "after": WALK_START}
    assert uses_index(pg, load_sql("expire_pokes"), batch, "pokes_live_expires_at_idx")
    assert uses_index(pg, load_sql("expire_pokes"), batch, "pokes_live_from_idx")  # the count
    purge = {"cutoff": NOW, "batch": 10, "after": WALK_START}
    assert uses_index(pg, load_sql("expire_pokes_purge"), purge, "pokes_expired_at_idx")
