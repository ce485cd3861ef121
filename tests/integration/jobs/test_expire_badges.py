"""expireBadges against real PostgreSQL and Redis: rules, cache, batches, idempotence."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from brewd.adapters import cache as keys
from brewd.core.errors import JobCancelled
from brewd.jobs import ALL_JOBS, expire_badges
from brewd.jobs.base import load_sql
from brewd.jobs.batches import WALK_START
from tests.integration.jobs.expiry_rows import (
    NOW,
    US,
    Conn,
    StopAfter,
    add_badge,
    add_cafe,
    add_user,
    closed_port_url,
    make_ctx,
    one,
    snapshot,
    uses_index,
)

DAY = timedelta(days=1)


def live(pg: Conn) -> int:
    return one(pg, "SELECT count(*) FROM badges WHERE is_active")


def test_registered_under_its_api_name() -> None:
    assert ALL_JOBS["expireBadges"] is expire_badges


def test_expires_dated_badges_at_or_before_now_only(pg: Conn, redis_url: str) -> None:
    user = add_user(pg, add_cafe(pg), NOW + DAY)
    at_now = add_badge(pg, user, NOW, badge_type="EARLY_BIRD")
    past = add_badge(pg, user, NOW - DAY, badge_type="NIGHT_OWL")
    just_after = add_badge(pg, user, NOW + US, badge_type="SOCIAL_BUTTERFLY")
    forever = add_badge(pg, user, None, badge_type="FREQUENT_VISITOR")
    old = add_badge(pg, user, NOW - 9 * DAY, is_active=False)
    before = one(pg, "SELECT updated_at FROM badges WHERE id = %s", (old,))

    result = expire_badges.run(make_ctx(pg, redis_url))

    assert result.affected_records == 2
    states = {r["id"]: r["is_active"] for r in pg.execute("SELECT id, is_active FROM badges")}
    assert states == {at_now: False, past: False, just_after: True, forever: True, old: False}
    assert one(pg, "SELECT updated_at FROM badges WHERE id = %s", (old,)) == before
    # Judged a microsecond before, a badge expiring at `now` is still live.
    add_badge(pg, user, NOW, badge_type="EARLY_BIRD")
    assert expire_badges.run(make_ctx(pg, redis_url, now=NOW - US)).affected_records == 0


def test_deletes_the_badge_cache_of_affected_users_only(
    pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    cafe = add_cafe(pg)
    holder, other = add_user(pg, cafe, NOW + DAY), add_user(pg, cafe, NOW + DAY)
    add_badge(pg, holder, NOW - DAY, badge_type="EARLY_BIRD")
    add_badge(pg, holder, NOW - 2 * DAY, badge_type="NIGHT_OWL")
    add_badge(pg, other, NOW + DAY)
    cache.set(keys.user_badges(holder), "[...]")
    cache.set(keys.user_badges(other), "[...]")

    result = expire_badges.run(make_ctx(pg, redis_url))

    assert result.message == "expired 2 badges of 1 user in 1 batch"
    assert not cache.exists(keys.user_badges(holder))
    assert cache.get(keys.user_badges(other)) == "[...]"


def test_second_run_changes_nothing(pg: Conn, redis_url: str) -> None:
    user = add_user(pg, add_cafe(pg), NOW + DAY)
    add_badge(pg, user, NOW - DAY)
    assert expire_badges.run(make_ctx(pg, redis_url)).affected_records == 1
    before = snapshot(pg, "badges")

    again = expire_badges.run(make_ctx(pg, redis_url))

    assert (again.affected_records, again.message) == (0, "no badges to expire")
    assert snapshot(pg, "badges") == before


def test_backlog_in_batches_and_a_stop_between_them(pg: Conn, redis_url: str) -> None:
    cafe = add_cafe(pg)
    for i in range(10):
        add_badge(pg, add_user(pg, cafe, NOW + DAY), NOW - timedelta(minutes=i + 1))

    with pytest.raises(JobCancelled):
        expire_badges.run(make_ctx(pg, redis_url, batch_size=3, should_stop=StopAfter(2)))
    assert live(pg) == 4

    result = expire_badges.run(make_ctx(pg, redis_url, batch_size=3))
    assert (result.affected_records, live(pg)) == (4, 0)
    assert "in 2 batches" in result.message


def test_badges_sharing_an_expiry_across_batch_boundaries_all_expire(
    pg: Conn, redis_url: str
) -> None:
    # Each batch resumes the walk at the last batch's latest expiry, inclusive: ties that a
    # batch's limit cut in two are taken by the next batch, none skipped.
    cafe = add_cafe(pg)
    for minutes in [3, 2, 2, 2, 2, 2, 2, 2, 1, 1]:
        add_badge(pg, add_user(pg, cafe, NOW + DAY), NOW - timedelta(minutes=minutes))

    result = expire_badges.run(make_ctx(pg, redis_url, batch_size=3))

    assert (result.affected_records, live(pg)) == (10, 0)
    assert "in 4 batches" in result.message


def test_redis_down_still_expires(pg: Conn, redis_url: str, cache: redis.Redis) -> None:
    user = add_user(pg, add_cafe(pg), NOW + DAY)
    add_badge(pg, user, NOW - DAY)
    cache.set(keys.user_badges(user), "[...]")

    result = expire_badges.run(make_ctx(pg, closed_port_url()))

    assert result.affected_records == 1
    assert "cache update failed: redis: ConnectionError" in result.message
    assert live(pg) == 0


def test_statement_uses_the_partial_index(pg: Conn) -> None:
    statement = load_sql("expire_badges")
    assert uses_index(
        pg, statement, {"now": NOW, "batch": 10, "after": WALK_START}, "badges_live_expires_at_idx"
    )
