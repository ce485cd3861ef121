"""aggregateAnalytics against real PostgreSQL and Redis: each metric exactly as SPEC §4 says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import redis

from brewd.core.errors import JobCancelled
from brewd.jobs import aggregate_analytics, analytics_window
from tests.integration.jobs.expiry_rows import Conn, StopAfter, closed_port_url, one, snapshot
from tests.integration.jobs.world_rows import (
    DAY,
    HOUR,
    cafe,
    context,
    message,
    naive_times,
    poke,
    session,
    user,
)

NOW = datetime(2024, 4, 1, 12, 5, tzinfo=UTC)  # closed hours 09, 10 and 11 UTC
H9, H10, H11 = (datetime(2024, 4, 1, h, tzinfo=UTC) for h in (9, 10, 11))


def at(hour: datetime, minutes: float) -> datetime:
    return hour + timedelta(minutes=minutes)


def member(pg: Conn, cafe_id: UUID, **kw: Any) -> UUID:
    kw.setdefault("created", H9 - 2 * HOUR)
    kw.setdefault("expires", NOW + DAY)
    return user(pg, cafe_id, **kw)


def rows(pg: Conn) -> dict[tuple[UUID, int], dict[str, Any]]:
    """(café, UTC hour) -> the row's metrics."""
    found = pg.execute(
        "SELECT cafe_id, date, hour, total_users, active_users, total_pokes, total_messages,"
        " average_session_duration, peak_concurrent_users FROM analytics"
    ).fetchall()
    assert all(str(r["date"]) == "2024-04-01" for r in found)
    return {(r.pop("cafe_id"), r.pop("hour")): r for r in found if r.pop("date")}


def metrics(
    total: int, active: int, pokes: int, msgs: int, avg: float, peak: int
) -> dict[str, Any]:
    return {
        "total_users": total,
        "active_users": active,
        "total_pokes": pokes,
        "total_messages": msgs,
        "average_session_duration": avg,
        "peak_concurrent_users": peak,
    }


def busy_cafe(pg: Conn, name: str = "Bean There") -> UUID:
    """The café of the exact-metrics test; see the expectations there."""
    cafe_id = cafe(pg, "Australia/Adelaide", name=name)
    u1, u2, u3, u4, u5, u6, u7 = (member(pg, cafe_id) for _ in range(7))
    member(pg, cafe_id)  # u8: present, silent
    member(pg, cafe_id, created=at(H10, 30))  # joined during hour 10
    member(pg, cafe_id, expires=H10)  # gone exactly when hour 10 starts
    member(pg, cafe_id, created=H11)  # joined exactly when hour 10 ends
    session(pg, u1, at(H9, 30), at(H10, 15))  # crosses into hour 10, ends at 10:15 ...
    session(pg, u1, at(H10, 15), at(H10, 45))  # ... exactly when this one starts: touching
    session(pg, u2, H10, at(H10, 40))
    session(pg, u3, at(H10, 50))  # still open
    session(pg, u4, at(H10, 50), H11)  # ends exactly on the hour boundary
    session(pg, u5, H9 - HOUR, H10)  # ends exactly when hour 10 starts
    message(pg, u6, at(H10, 5))
    message(pg, u6, at(H11, -1 / 60_000_000))  # the last microsecond of hour 10
    message(pg, u6, H11)
    poke(pg, u7, u1, at(H10, 20))
    return cafe_id


# Computed a day at a time (the window in one piece) and an hour at a time: an hour's row
# depends on nothing outside it, so the pieces a backfill is split into never change a row.
@pytest.mark.parametrize("chunk_hours", [24, 1])
def test_each_metric_matches_its_definition_hour_by_hour(
    pg: Conn, cache: redis.Redis, monkeypatch: pytest.MonkeyPatch, chunk_hours: int
) -> None:
    monkeypatch.setattr(analytics_window, "CHUNK_HOURS", chunk_hours)
    cafe_id = busy_cafe(pg)
    other = cafe(pg)  # another café's people never count here, even when they poke ours
    stranger = member(pg, other)
    session(pg, stranger, H10, at(H10, 30))
    poke(pg, stranger, member(pg, cafe_id), at(H10, 10))
    if not naive_times(pg):  # on the original's schema the session's zone is the legacy one
        pg.execute("SET TimeZone = 'Asia/Kolkata'")  # hours are UTC whatever the session's zone

    result = aggregate_analytics.run(context(pg, cache, NOW))

    got = rows(pg)
    # Members: u1..u8 and the one the stranger pokes, all hours; the one gone at 10:00 counts
    # in hour 9 only, the one who joined at 10:30 from hour 10, the one from 11:00 in hour 11.
    assert got[(cafe_id, 9)] == metrics(10, 2, 0, 0, 0.0, 2)  # u5 and u1 (from 09:30)
    # Hour 10: at 10:15 u1's first session has closed as the second opens, u2 is in: 2, not 3.
    # Ended in [10, 11): 45 min, 30 min, 40 min and u5's 2 h at 10:00 sharp.
    assert got[(cafe_id, 10)] == metrics(10, 6, 1, 2, (2700 + 1800 + 2400 + 7200) / 4, 2)
    # Hour 11: the open session, u6's message at 11:00 sharp; u4's session ended at 11:00
    # sharp (600 s) so it counts for the average only.
    assert got[(cafe_id, 11)] == metrics(11, 2, 0, 1, 600.0, 1)
    assert got[(other, 10)] == metrics(1, 1, 1, 0, 1800.0, 1)
    assert got[(other, 9)] == metrics(1, 0, 0, 0, 0.0, 0)  # quiet hours still get a row
    assert result.affected_records == 6
    assert result.message.startswith("upserted 6 rows (6 new, 0 updated, 0 already right)")


def test_touching_sessions_are_never_concurrent_but_overlapping_ones_are(
    pg: Conn, cache: redis.Redis
) -> None:
    touching, overlapping = cafe(pg), cafe(pg)
    a, b, c = (member(pg, touching) for _ in range(3))
    session(pg, a, at(H10, 0), at(H10, 20))
    session(pg, b, at(H10, 20), at(H10, 40))
    session(pg, c, at(H10, 40), H11)
    x, y = (member(pg, overlapping) for _ in range(2))
    session(pg, x, at(H10, 0), at(H10, 20))
    session(pg, y, at(H10, 20) - timedelta(microseconds=1), at(H10, 40))

    aggregate_analytics.run(context(pg, cache, NOW))

    got = rows(pg)
    assert got[(touching, 10)]["peak_concurrent_users"] == 1
    assert got[(overlapping, 10)]["peak_concurrent_users"] == 2


def test_inactive_cafes_get_no_rows(pg: Conn, cache: redis.Redis) -> None:
    closed = cafe(pg, active=False)
    session(pg, member(pg, closed), at(H10, 0), at(H10, 20))
    open_one = cafe(pg)

    aggregate_analytics.run(context(pg, cache, NOW))

    assert {key[0] for key in rows(pg)} == {open_one}


def stored_hour(pg: Conn, cafe_id: UUID, hour: datetime) -> None:
    pg.execute(
        "INSERT INTO analytics (cafe_id, date, hour) VALUES (%s, %s, %s)",
        (cafe_id, hour.date(), hour.hour),
    )


@pytest.mark.parametrize(
    ("newest_ago", "cap", "hours"),
    [(None, 72, 3), (2, 72, 3), (10, 72, 10), (500, 72, 72), (10, 5, 5)],
)
def test_the_window_covers_downtime_back_to_the_newest_stored_hour_up_to_the_cap(
    pg: Conn, cache: redis.Redis, newest_ago: int | None, cap: int, hours: int
) -> None:
    cafes = [cafe(pg) for _ in range(3)]
    top = datetime(2024, 4, 1, 12, tzinfo=UTC)
    if newest_ago is not None:
        stored_hour(pg, cafes[0], top - newest_ago * HOUR)

    aggregate_analytics.run(context(pg, cache, NOW, max_backfill_hours=cap, batch_size=7))

    stored = pg.execute(
        "SELECT (date + make_interval(hours => hour)) AT TIME ZONE 'UTC' AS h FROM analytics"
    ).fetchall()
    window = {top - (i + 1) * HOUR for i in range(hours)}
    older = {top - newest_ago * HOUR} if newest_ago is not None else set()
    assert {r["h"] for r in stored} == window | older
    assert len(stored) == 3 * hours + len(older - window)


def test_every_row_is_cached_as_json_with_the_spec_keys_for_a_day(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = busy_cafe(pg)
    quiet = cafe(pg)

    aggregate_analytics.run(context(pg, cache, NOW))

    assert json.loads(cache.get(f"analytics:{cafe_id}:2024-04-01T10") or "") == {
        "totalUsers": 9,  # busy_cafe alone: u1..u8 and the one who joined at 10:30
        "activeUsers": 6,
        "totalPokes": 1,
        "totalMessages": 2,
        "averageSessionDuration": 3525.0,
        "peakConcurrentUsers": 2,
    }
    assert json.loads(cache.get(f"analytics:{quiet}:2024-04-01T09") or "")["totalUsers"] == 0
    assert len(cache.keys("analytics:*")) == 6
    assert 86_390 < cache.ttl(f"analytics:{quiet}:2024-04-01T11") <= 86_400


def test_a_rerun_leaves_correct_rows_alone_and_repairs_wrong_ones_and_the_cache(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = busy_cafe(pg)
    aggregate_analytics.run(context(pg, cache, NOW))
    before = snapshot(pg, "analytics")
    pg.execute(
        "UPDATE analytics SET active_users = 99, updated_at = created_at"
        " WHERE cafe_id = %s AND hour = 10",
        (cafe_id,),
    )
    cache.flushdb()

    result = aggregate_analytics.run(context(pg, cache, NOW))

    after = snapshot(pg, "analytics")
    changed = [b for b, a in zip(before, after, strict=True) if a != b]
    assert [(r["hour"], r["active_users"]) for r in changed] == [(10, 6)]
    assert changed[0]["updated_at"] < after[before.index(changed[0])]["updated_at"]
    assert result.affected_records == 1
    assert "(0 new, 1 updated, 2 already right)" in result.message
    assert len(cache.keys("analytics:*")) == 3  # the cache is whole again


def test_redis_down_still_writes_the_rows_and_says_the_cache_step_failed(pg: Conn) -> None:
    cafe(pg)
    down = redis.Redis.from_url(closed_port_url(), socket_connect_timeout=2)

    result = aggregate_analytics.run(context(pg, down, NOW, batch_size=1))

    assert one(pg, "SELECT count(*) FROM analytics") == 3
    assert result.affected_records == 3
    assert "cache update failed" in result.message


def test_sql_looking_cafe_names_and_usernames_are_only_data(pg: Conn, cache: redis.Redis) -> None:
    cafe_id = busy_cafe(pg, name="x'); DROP TABLE analytics; --")
    member(pg, cafe_id, name="'; DELETE FROM users WHERE ''='")

    aggregate_analytics.run(context(pg, cache, NOW))

    assert rows(pg)[(cafe_id, 10)]["total_users"] == 10
    assert one(pg, "SELECT count(*) FROM users") == 12


def test_a_stop_between_batches_keeps_finished_hours_and_leaves_the_rest_untouched(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_ids = [cafe(pg) for _ in range(2)]  # 2 cafés x 3 hours, upserted 2 rows a batch
    first = min(cafe_ids)  # the computed rows are upserted by café, then hour

    with pytest.raises(JobCancelled):  # allowed: the compute step and the first batch
        aggregate_analytics.run(context(pg, cache, NOW, batch_size=2, should_stop=StopAfter(2)))

    assert set(rows(pg)) == {(first, 9), (first, 10)}
    assert set(cache.keys("analytics:*")) == {
        f"analytics:{first}:2024-04-01T09",
        f"analytics:{first}:2024-04-01T10",
    }
    assert one(pg, "SELECT to_regclass('pg_temp.analytics_computed') IS NULL")  # dropped
    result = aggregate_analytics.run(context(pg, cache, NOW, batch_size=2))
    assert result.affected_records == 4  # the next run finishes the rest
