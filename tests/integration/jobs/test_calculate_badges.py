"""calculateBadges against real PostgreSQL and Redis: every rule of SPEC §4, in café time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
import redis
from loguru import logger
from psycopg.rows import dict_row

from brewd.jobs import calculate_badges
from tests.helpers import wait_until
from tests.integration.jobs.expiry_rows import Conn, closed_port_url, one, snapshot
from tests.integration.jobs.world_rows import (
    DAY,
    badge_types,
    cafe,
    context,
    local,
    naive_times,
    poke,
    session,
    user,
)

NOW = datetime(2024, 4, 1, 12, 0, tzinfo=UTC)  # the 48 h look-back starts 2024-03-30 12:00Z
EB, NO = {"EARLY_BIRD"}, {"NIGHT_OWL"}
# Wall-clock start on 2024-03-31 -> the badges it earns. Europe/Berlin springs forward that
# night (02:00 -> 03:00) and Australia/Adelaide is on a half-hour offset (+10:30).
BANDS = {
    "04:59": set(),
    "05:00": EB,
    "07:59": EB,
    "08:00": set(),
    "21:59": set(),
    "22:00": NO,
    "23:59": NO,
    "00:00": NO,
    "03:59": NO,
    "04:00": set(),
}
ZONES = ("UTC", "Asia/Tokyo", "Australia/Adelaide", "America/New_York", "Europe/Berlin")


def live_user(pg: Conn, cafe_id: UUID, **kw: Any) -> UUID:
    return user(pg, cafe_id, created=NOW - 40 * DAY, expires=NOW + DAY, **kw)


def run(pg: Conn, cache: redis.Redis, now: datetime = NOW) -> Any:
    return calculate_badges.run(context(pg, cache, now))


def test_hours_are_judged_at_each_band_boundary_in_the_cafes_own_zone(
    pg: Conn, cache: redis.Redis
) -> None:
    expected: dict[UUID, set[str]] = {}
    for zone in ZONES:
        cafe_id = cafe(pg, zone)
        for wall, earns in BANDS.items():
            user_id = live_user(pg, cafe_id)
            session(pg, user_id, local(zone, f"2024-03-31 {wall}"), NOW)
            expected[user_id] = earns
    # The server's (and connection's) zone must play no part. (On the original's schema the
    # session's zone is the one the naive times were written in: it stays.)
    if not naive_times(pg):
        pg.execute("SET TimeZone = 'Pacific/Kiritimati'")

    result = run(pg, cache)

    assert {user_id: badge_types(pg, user_id) for user_id in expected} == expected
    awarded = sum(len(earns) for earns in expected.values())
    assert result.affected_records == awarded
    assert result.message.startswith(
        f"awarded {awarded} badges: {2 * len(ZONES)} Early Bird, {4 * len(ZONES)} Night Owl, "
        "0 Social Butterfly, 0 Frequent Visitor"
    )


def test_the_48_hour_look_back_includes_its_first_instant_only(
    pg: Conn, cache: redis.Redis
) -> None:
    auckland = cafe(pg, "Pacific/Auckland")  # 2024-03-30 12:00Z is 01:00 there: Night Owl
    at_edge, before_edge = live_user(pg, auckland), live_user(pg, auckland)
    session(pg, at_edge, NOW - timedelta(hours=48))
    session(pg, before_edge, NOW - timedelta(hours=48, microseconds=1))
    future = live_user(pg, auckland)
    session(pg, future, NOW + timedelta(minutes=1))  # clock skew: not yet happened

    run(pg, cache)

    assert badge_types(pg, at_edge) == NO
    assert badge_types(pg, before_edge) == set()
    assert badge_types(pg, future) == set()


def test_social_butterfly_counts_expired_pokes_and_needs_ten_in_seven_days(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = cafe(pg)
    friend = live_user(pg, cafe_id)
    ten, nine, one_too_old = (live_user(pg, cafe_id) for _ in range(3))
    for i in range(10):
        expired = NOW - DAY if i < 6 else None  # soft-expired pokes still count
        poke(pg, ten, friend, NOW - timedelta(days=6, hours=i), expired_at=expired)
        if i < 9:
            poke(pg, nine, friend, NOW - timedelta(hours=i), expired_at=expired)
        at = NOW - timedelta(days=7, microseconds=1) if i == 0 else NOW - timedelta(hours=i)
        poke(pg, one_too_old, friend, at)

    result = run(pg, cache)

    assert badge_types(pg, ten) == {"SOCIAL_BUTTERFLY"}
    assert badge_types(pg, nine) == set()
    assert badge_types(pg, one_too_old) == set()
    assert badge_types(pg, friend) == set()  # received pokes do not count
    assert "1 Social Butterfly" in result.message


def test_frequent_visitor_counts_distinct_local_calendar_days(pg: Conn, cache: redis.Redis) -> None:
    adelaide = cafe(pg, "Australia/Adelaide")  # +10:30 until 7 April
    days = [datetime(2024, 3, d, tzinfo=UTC) for d in range(20, 26)]
    # Five UTC days but four Adelaide days: 20th 14:00Z and 21st 01:00Z are both the 21st there.
    four_local = live_user(pg, adelaide)
    for at in [days[0] + timedelta(hours=14)] + [d + timedelta(hours=1) for d in days[1:5]]:
        session(pg, four_local, at, at + timedelta(minutes=30))
    # Four UTC days but five Adelaide days: 20th 12:00Z is the 20th, 20th 22:30Z the 21st.
    five_local = live_user(pg, adelaide)
    starts = [days[0] + timedelta(hours=12), days[0] + timedelta(hours=22, minutes=30)]
    for at in starts + [d + timedelta(hours=12) for d in days[2:5]]:
        session(pg, five_local, at, at + timedelta(minutes=30))
    # Five days, but the oldest a microsecond outside the 30 days.
    too_old = live_user(pg, cafe(pg))
    for i in range(5):
        at = NOW - timedelta(days=30, microseconds=1) if i == 0 else NOW - i * DAY
        session(pg, too_old, at)

    run(pg, cache)

    assert "FREQUENT_VISITOR" not in badge_types(pg, four_local)
    assert "FREQUENT_VISITOR" in badge_types(pg, five_local)
    assert "FREQUENT_VISITOR" not in badge_types(pg, too_old)


def test_badges_already_held_inactive_users_and_lifetimes(pg: Conn, cache: redis.Redis) -> None:
    cafe_id = cafe(pg)
    holder, had_one, lapsed = (live_user(pg, cafe_id) for _ in range(3))
    gone = user(pg, cafe_id, created=NOW - DAY, expires=NOW + DAY, active=False)
    for user_id in (holder, had_one, lapsed, gone):
        session(pg, user_id, NOW - timedelta(hours=6), NOW - timedelta(hours=5))  # 06:00 UTC
    held = badge(pg, holder, NOW + DAY, active=True)
    badge(pg, had_one, NOW - DAY, active=False)
    badge(pg, lapsed, NOW - timedelta(seconds=1), active=True)  # expireBadges has not run

    result = run(pg, cache)

    rows = pg.execute(
        "SELECT id, user_id, is_active, expires_at::timestamptz AS expires_at FROM badges"
    ).fetchall()
    active = {r["user_id"]: r for r in rows if r["is_active"]}
    assert active[holder]["id"] == held  # kept, not re-awarded
    assert active[had_one]["expires_at"] == NOW + timedelta(days=7)
    assert active[lapsed]["expires_at"] == NOW + timedelta(days=7)
    assert gone not in active
    assert all(r["user_id"] != gone for r in rows)
    assert result.affected_records == 2
    assert "retired 1 lapsed badge" in result.message


def badge(pg: Conn, user_id: UUID, expires: datetime, *, active: bool) -> UUID:
    return one(
        pg,
        "INSERT INTO badges (user_id, type, name, expires_at, is_active)"
        " VALUES (%s, 'EARLY_BIRD', 'Early Bird', %s, %s) RETURNING id",
        (user_id, expires, active),
    )


def test_awards_carry_the_spec_names_lifetimes_and_a_second_run_changes_nothing(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = cafe(pg, "Asia/Tokyo", name="'; DROP TABLE badges; --")
    everything = live_user(pg, cafe_id, name="Robert'); DELETE FROM users; --")
    other = live_user(pg, cafe_id)
    for day in range(5):  # 06:30 and 23:30 in Tokyo on five days
        session(pg, everything, local("Asia/Tokyo", f"2024-03-{27 + day} 06:30"))
        session(pg, everything, local("Asia/Tokyo", f"2024-03-{27 + day} 23:30"))
    for i in range(10):
        poke(pg, everything, other, NOW - timedelta(hours=i))

    first = run(pg, cache)
    before = snapshot(pg, "badges")
    second = run(pg, cache)

    rows = pg.execute(
        "SELECT type, name, description, expires_at::timestamptz AS expires_at FROM badges"
    ).fetchall()
    assert {(r["type"], r["name"], r["expires_at"] - NOW) for r in rows} == {
        ("EARLY_BIRD", "Early Bird", timedelta(days=7)),
        ("NIGHT_OWL", "Night Owl", timedelta(days=7)),
        ("SOCIAL_BUTTERFLY", "Social Butterfly", timedelta(days=30)),
        ("FREQUENT_VISITOR", "Frequent Visitor", timedelta(days=60)),
    }
    assert all(r["description"] for r in rows)
    assert first.message == (
        "awarded 4 badges: 1 Early Bird, 1 Night Owl, 1 Social Butterfly, 1 Frequent Visitor"
    )
    assert second.affected_records == 0
    assert second.message.startswith("awarded 0 badges")
    assert snapshot(pg, "badges") == before


def test_awarded_users_badge_caches_are_deleted_and_no_one_elses(
    pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = cafe(pg)
    early, idle = live_user(pg, cafe_id), live_user(pg, cafe_id)
    session(pg, early, NOW - timedelta(hours=6))
    cache.set(f"user:{early}:badges", "[]")
    cache.set(f"user:{idle}:badges", "[]")

    run(pg, cache)

    assert cache.exists(f"user:{early}:badges") == 0
    assert cache.get(f"user:{idle}:badges") == "[]"


def test_holders_are_forgotten_a_chunk_at_a_time_and_the_runs_note_is_dropped(
    pg: Conn, cache: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calculate_badges, "HOLDERS_PER_STEP", 3)
    cafe_id = cafe(pg)
    earners = [live_user(pg, cafe_id) for _ in range(7)]
    for earner in earners:
        session(pg, earner, NOW - timedelta(hours=6))
    lapsed = live_user(pg, cafe_id)
    badge(pg, lapsed, NOW - DAY, active=True)  # past expiry, still flagged active: retired
    bystander = live_user(pg, cafe_id)
    for user_id in [*earners, lapsed, bystander]:
        cache.set(f"user:{user_id}:badges", "[]")
    # A failed run's note left on this connection is replaced, not added to.
    pg.execute("CREATE TEMPORARY TABLE badge_changes (user_id uuid, type text, retired bool)")
    pg.execute("INSERT INTO badge_changes VALUES (%s, 'EARLY_BIRD', false)", (bystander,))

    result = run(pg, cache)

    assert result.affected_records == 7
    assert "retired 1 lapsed badge first" in result.message
    assert [cache.exists(f"user:{u}:badges") for u in [*earners, lapsed]] == [0] * 8
    assert cache.get(f"user:{bystander}:badges") == "[]"
    assert one(pg, "SELECT to_regclass('pg_temp.badge_changes') IS NULL")


def test_redis_down_still_awards_and_says_the_cache_step_failed(pg: Conn) -> None:
    cafe_id = cafe(pg)
    early = live_user(pg, cafe_id)
    session(pg, early, NOW - timedelta(hours=6))
    down = redis.Redis.from_url(closed_port_url(), socket_connect_timeout=2)

    result = calculate_badges.run(context(pg, down, NOW))

    assert badge_types(pg, early) == EB
    assert result.affected_records == 1
    assert "cache update failed" in result.message


def test_a_cafe_with_an_unknown_time_zone_is_skipped_for_hour_rules_and_reported(
    pg: Conn, cache: redis.Redis
) -> None:
    good, bad = cafe(pg, "Europe/Berlin"), cafe(pg, "Mars/Olympus_Mons")
    friend = live_user(pg, good)
    fine, stranded = live_user(pg, good), live_user(pg, bad)
    for user_id in (fine, stranded):
        session(pg, user_id, local("Europe/Berlin", "2024-04-01 06:00"))
        for i in range(10):
            poke(pg, user_id, friend, NOW - timedelta(hours=i))
    warnings: list[str] = []
    sink = logger.add(
        lambda m: warnings.append(m.record["extra"].get("event", "")), level="WARNING"
    )
    try:
        result = run(pg, cache)
    finally:
        logger.remove(sink)

    assert badge_types(pg, fine) == {"EARLY_BIRD", "SOCIAL_BUTTERFLY"}
    assert badge_types(pg, stranded) == {"SOCIAL_BUTTERFLY"}
    assert warnings.count("bad_cafe_timezone") == 1
    assert "1 café with an unknown time zone ('Mars/Olympus_Mons')" in result.message


def test_two_overlapping_runs_never_award_a_badge_twice(
    pg_dsn: str, pg: Conn, cache: redis.Redis
) -> None:
    cafe_id = cafe(pg)
    people = [live_user(pg, cafe_id) for _ in range(5)]
    for user_id in people:
        session(pg, user_id, NOW - timedelta(hours=6))
    first_committing = threading.Event()
    conn_a = psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row)
    conn_b = psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row)

    def hold_commit_until_b_waits(conn: Conn) -> None:
        # Run A has inserted but not committed: let run B reach the same rows and block.
        first_committing.set()
        wait_until(lambda: lock_waiting(pg, conn_b.info.backend_pid), 20.0, "run B to wait")

    def second_run() -> Any:
        assert first_committing.wait(30)
        return calculate_badges.run(context(conn_b, cache, NOW))

    with conn_a, conn_b, ThreadPoolExecutor(2) as pool:
        a = pool.submit(
            calculate_badges.run, context(conn_a, cache, NOW, fence=hold_commit_until_b_waits)
        )
        b = pool.submit(second_run)
        results = [a.result(timeout=60), b.result(timeout=60)]

    assert [r.affected_records for r in results] == [5, 0]
    assert one(pg, "SELECT count(*) FROM badges") == 5


def lock_waiting(pg: Conn, pid: int) -> bool:
    row = pg.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return row is not None and row["wait_event_type"] == "Lock"
