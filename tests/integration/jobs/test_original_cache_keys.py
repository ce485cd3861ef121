"""The original scheduler's Redis contracts at cut-over, on real PostgreSQL and Redis:
`cafe:{id}:last_proactive_message` holds the 10-minute limit, `user:username:{name}` goes
with its user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from brewd.adapters import cache as keys
from brewd.jobs import expire_users
from brewd.jobs.proactive import messages as proactive_messages
from tests.integration.jobs import expiry_rows
from tests.integration.jobs.proactive_world import add_cafe, add_users, make_ctx, posts

NOW = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def epoch_ms(at: datetime) -> str:
    """As the original wrote it: `Date.now().toString()`."""
    return str(int(at.timestamp() * 1000))


def test_a_post_by_the_original_a_minute_ago_holds_the_cafe_back(pg, cache):
    held, free = add_cafe(pg, name="Held"), add_cafe(pg, name="Free")
    for cafe in (held, free):
        add_users(pg, cafe, 2, NOW)
    cache.set(keys.cafe_last_proactive_message(held), epoch_ms(NOW - MINUTE))  # no TTL, as it
    cache.set(keys.cafe_last_proactive_message(free), epoch_ms(NOW - 11 * MINUTE))

    result = proactive_messages.run(make_ctx(pg, cache, NOW))

    assert result.message.endswith("; skipped 1 café: 1 rate-limited")
    assert (len(posts(pg, held)), len(posts(pg, free))) == (0, 1)
    assert cache.get(keys.cafe_last_proactive_message(held)) == epoch_ms(NOW - MINUTE)
    # brewd writes the key in the original's format, so a rollback is held back as well
    assert cache.get(keys.cafe_last_proactive_message(free)) == epoch_ms(NOW)


def test_the_limit_follows_the_configured_interval(pg, cache):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    cache.set(keys.cafe_last_proactive_message(cafe), epoch_ms(NOW - 3 * MINUTE))
    proactive_messages.run(make_ctx(pg, cache, NOW, min_interval=120.0))
    assert len(posts(pg, cafe)) == 1


@pytest.mark.parametrize(
    "value",
    [
        "not-a-number",
        "9" * 5000,  # bounded before conversion: int() would raise on Python's digit limit
        "-1",
        "1.7e12",
        "",
        epoch_ms(NOW + 60 * MINUTE),  # an hour ahead is a bad value, not a clock difference
    ],
)
def test_a_value_not_in_the_original_format_does_not_hold_the_cafe(pg, cache, value):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    cache.set(keys.cafe_last_proactive_message(cafe), value)
    result = proactive_messages.run(make_ctx(pg, cache, NOW))
    assert result.affected_records == 1


def test_a_clock_a_little_ahead_still_holds_the_cafe(pg, cache):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    cache.set(keys.cafe_last_proactive_message(cafe), epoch_ms(NOW + 2 * MINUTE))
    assert proactive_messages.run(make_ctx(pg, cache, NOW)).affected_records == 0


def test_expiry_deletes_the_original_username_key(pg, cache, redis_url):
    cafe = expiry_rows.add_cafe(pg)
    gone = expiry_rows.add_user(pg, cafe, expiry_rows.NOW - MINUTE, username="ana")
    kept = expiry_rows.add_user(pg, cafe, expiry_rows.NOW + MINUTE, username="ben")
    cache.set(keys.username("ana"), str(gone))
    cache.set(keys.username("ben"), str(kept))

    result = expire_users.run(expiry_rows.make_ctx(pg, redis_url))

    assert result.affected_records == 1
    assert not cache.exists("user:username:ana")
    assert cache.get("user:username:ben") == str(kept)
