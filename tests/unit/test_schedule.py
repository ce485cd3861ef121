"""Cron slots and DST: concrete transitions 2026-2030 in six zones, catch-up, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from brewd.core.catchup import catch_up, catchup_grace
from brewd.core.cron import (
    Cron,
    CronSpec,
    count_slots_between,
    latest_slot,
    next_slot,
    nominal_period,
    plan,
    slots_between,
)

SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def z(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def spec(expression: str, zone: str) -> CronSpec:
    return CronSpec(Cron(expression), ZoneInfo(zone))


@cache
def transitions(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants (whole minutes) at which `zone` changes its UTC offset during `year`."""
    tz, found, at = ZoneInfo(zone), [], z(year, 1, 1)
    while at.year == year:
        step_end, offset = at + 6 * HOUR, at.astimezone(tz).utcoffset()
        while at < step_end and step_end.astimezone(tz).utcoffset() != offset:
            at += MIN
            if at.astimezone(tz).utcoffset() != offset:
                found.append(at)
                break
        at = step_end
    return tuple(found)


def utc(year: int, text: str) -> list[datetime]:
    """'03-28 01:00, 03-29 00:30' in `year` as UTC datetimes."""
    fields = (t.replace(":", " ").replace("-", " ").split() for t in text.split(","))
    return [z(year, *map(int, numbers)) for numbers in fields]


def utc_after(after: datetime, text: str) -> list[datetime]:
    """'23:30, 00:30' as the UTC instants after `after` with those times, in order."""
    found: list[datetime] = []
    for hhmm in text.split(","):
        hour, minute = map(int, hhmm.split(":"))
        at = after.replace(hour=hour, minute=minute)
        while at <= (found[-1] if found else after):
            at += timedelta(days=1)
        found.append(at)
    return found


# One row per transition: (zone, expression, window start UTC, the expected UTC slots of the
# next three days). A spring-forward gap moves a fixed slot to the first valid instant after;
# a fall-back fold keeps only the first occurrence; other days are plain.
FIXED_DAILY = [
    # Paris: 2027-03-28 02:00 CET -> 03:00 CEST; 2027-10-31 03:00 CEST -> 02:00 CET.
    ("Europe/Paris", "30 2 * * *", "2027-03-27", "03-27 01:30, 03-28 01:00, 03-29 00:30"),
    ("Europe/Paris", "30 2 * * *", "2027-10-30", "10-30 00:30, 10-31 00:30, 11-01 01:30"),
    ("Europe/Paris", "0 0 * * *", "2026-03-27 12:00", "03-27 23:00, 03-28 23:00, 03-29 22:00"),
    ("Europe/Paris", "5 0 * * *", "2030-10-25 12:00", "10-25 22:05, 10-26 22:05, 10-27 23:05"),
    # New York: 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST.
    ("America/New_York", "30 2 * * *", "2027-03-13", "03-13 07:30, 03-14 07:00, 03-15 06:30"),
    ("America/New_York", "30 1 * * *", "2027-11-06", "11-06 05:30, 11-07 05:30, 11-08 06:30"),
    ("America/New_York", "30 2 * * *", "2029-11-03", "11-03 06:30, 11-04 07:30, 11-05 07:30"),
    ("America/New_York", "0 0 * * *", "2028-03-11", "03-11 05:00, 03-12 05:00, 03-13 04:00"),
    # Adelaide (+9:30/+10:30): 2027-10-03 02:00 -> 03:00; 2027-04-04 03:00 -> 02:00.
    ("Australia/Adelaide", "30 2 * * *", "2027-10-01", "10-01 17:00, 10-02 16:30, 10-03 16:00"),
    ("Australia/Adelaide", "30 2 * * *", "2027-04-02", "04-02 16:00, 04-03 16:00, 04-04 17:00"),
    ("Australia/Adelaide", "5 0 * * *", "2026-10-02", "10-02 14:35, 10-03 14:35, 10-04 13:35"),
    # Lord Howe (+10:30/+11): 2027-10-03 02:00 -> 02:30; 2027-04-04 02:00 -> 01:30.
    ("Australia/Lord_Howe", "30 2 * * *", "2027-10-01", "10-01 16:00, 10-02 15:30, 10-03 15:30"),
    ("Australia/Lord_Howe", "15 2 * * *", "2027-10-01", "10-01 15:45, 10-02 15:30, 10-03 15:15"),
    ("Australia/Lord_Howe", "45 1 * * *", "2027-04-02", "04-02 14:45, 04-03 14:45, 04-04 15:15"),
    ("Australia/Lord_Howe", "0 0 * * *", "2029-03-30", "03-30 13:00, 03-31 13:00, 04-01 13:30"),
    # No DST: every 24 h exactly.
    ("Asia/Kolkata", "30 2 * * *", "2027-03-27", "03-27 21:00, 03-28 21:00, 03-29 21:00"),
    ("UTC", "0 0 * * *", "2027-10-30 01:00", "10-31 00:00, 11-01 00:00, 11-02 00:00"),
]


@pytest.mark.parametrize(("zone", "expression", "start", "expected"), FIXED_DAILY)
def test_fixed_time_daily_jobs_across_transitions(
    zone: str, expression: str, start: str, expected: str
) -> None:
    after = datetime.fromisoformat(start).replace(tzinfo=UTC)
    got = slots_between(spec(expression, zone), after, after + timedelta(days=3))
    assert got == utc(after.year, expected)


# Wildcard-hour jobs follow elapsed time: both occurrences of a repeated hour, nothing invented
# in a gap. (zone, expression, window start UTC, each UTC slot up to the last one listed.)
WILDCARD = [
    ("Europe/Paris", "0 * * * *", "2027-03-27 23:30", "00:00, 01:00, 02:00"),
    ("Europe/Paris", "0 * * * *", "2027-10-30 23:30", "00:00, 01:00, 02:00"),
    ("Europe/Paris", "5 * * * *", "2026-10-24 23:30", "00:05, 01:05, 02:05"),
    ("America/New_York", "5 * * * *", "2027-03-14 06:00", "06:05, 07:05"),
    ("America/New_York", "0 * * * *", "2027-11-07 04:30", "05:00, 06:00, 07:00"),
    ("Australia/Adelaide", "0 * * * *", "2027-10-02 15:00", "15:30, 16:30, 17:30"),
    ("Australia/Adelaide", "0 * * * *", "2027-04-03 15:00", "15:30, 16:30, 17:30"),
    # Lord Howe's 30-minute shifts, where cronsim's own zone handling drops slots (2.8 loses
    # 02:30 +11 on the spring day and the second 01:30 on the autumn day).
    ("Australia/Lord_Howe", "0 * * * *", "2027-10-02 14:00", "14:30, 16:00"),
    ("Australia/Lord_Howe", "30 * * * *", "2027-10-02 14:30", "15:00, 15:30, 16:30"),
    ("Australia/Lord_Howe", "30 * * * *", "2027-04-03 14:00", "14:30, 15:00, 16:00"),
    ("Australia/Lord_Howe", "0 * * * *", "2027-04-03 13:30", "14:00, 15:30"),
    ("Asia/Kolkata", "0 * * * *", "2027-03-28 00:00", "00:30, 01:30"),
]


@pytest.mark.parametrize(("zone", "expression", "start", "expected"), WILDCARD)
def test_wildcard_hour_jobs_follow_elapsed_time(
    zone: str, expression: str, start: str, expected: str
) -> None:
    after = datetime.fromisoformat(start).replace(tzinfo=UTC)
    slots = utc_after(after, expected)
    assert slots_between(spec(expression, zone), after, slots[-1]) == slots


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize("step", [2, 5])
def test_every_n_minutes_keeps_its_pace_through_the_transitions_of_2028(
    zone: str, step: int
) -> None:
    every = spec(f"*/{step} * * * *", zone)
    for change in transitions(zone, 2028):
        slots = slots_between(every, change - 3 * HOUR, change + 3 * HOUR)
        assert {b - a for a, b in pairwise(slots)} == {step * MIN}
        assert len(slots) == 6 * 60 // step


def test_both_occurrences_of_the_repeated_hour_are_slots_for_every_five_minutes() -> None:
    paris = ZoneInfo("Europe/Paris")
    slots = slots_between(
        spec("*/5 * * * *", "Europe/Paris"), z(2027, 10, 30, 23), z(2027, 10, 31, 2)
    )
    walls = [s.astimezone(paris) for s in slots]
    assert [f"{w:%H:%M %Z}" for w in walls if w.hour == 2][::12] == ["02:00 CEST", "02:00 CET"]
    assert sum(1 for w in walls if w.hour == 2) == 24


def test_gap_slots_of_a_fixed_job_collapse_into_one_run() -> None:
    # 02:00 and 02:30 do not exist; with 03:00 they become a single slot at 03:00 CEST.
    got = slots_between(spec("0,30 2,3 * * *", "Europe/Paris"), z(2027, 3, 28), z(2027, 3, 28, 3))
    assert got == [z(2027, 3, 28, 1), z(2027, 3, 28, 1, 30)]


def test_next_slot_is_strictly_after_even_inside_a_fold() -> None:
    # 02:40 CET is the second 02:40 of 2027-10-31; the fixed 02:45 ran at 02:45 CEST already.
    fold_second = datetime(2027, 10, 31, 2, 40, tzinfo=ZoneInfo("Europe/Paris"), fold=1)
    assert next_slot(spec("45 2 * * *", "Europe/Paris"), fold_second) == z(2027, 11, 1, 1, 45)
    assert next_slot(spec("*/5 * * * *", "UTC"), z(2027, 1, 1, 10, 5)) == z(2027, 1, 1, 10, 10)
    micro = z(2027, 1, 1, 10, 4) + timedelta(seconds=59, microseconds=1)
    assert next_slot(spec("*/5 * * * *", "UTC"), micro) == z(2027, 1, 1, 10, 5)


def test_fixed_time_follows_debian_crons_rule() -> None:
    assert spec("30 2 * * *", "UTC").fixed_time
    assert spec("0 9-17 * * 1-5", "UTC").fixed_time  # ranges and lists count as fixed
    assert not spec("0 * * * *", "UTC").fixed_time
    assert not spec("*/5 * * * *", "UTC").fixed_time
    assert not spec("0 */2 * * *", "UTC").fixed_time


@pytest.mark.parametrize(
    ("expression", "problem"),
    [("*/5 * * *", "five-field"), ("0 0 * * * *", "five-field"), ("61 * * * *", "Bad minute")],
)
def test_bad_expressions_are_refused_with_the_reason(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Cron(expression)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_slot(spec("* * * * *", "UTC"), datetime(2027, 1, 1))


def test_latest_slot_and_its_look_back() -> None:
    hourly = spec("0 * * * *", "Europe/Paris")
    assert latest_slot(hourly, z(2027, 10, 31, 1, 30)) == z(2027, 10, 31, 1)
    assert latest_slot(hourly, z(2027, 10, 31, 1)) == z(2027, 10, 31, 1)  # <= at
    leap = spec("0 0 29 2 *", "UTC")
    assert latest_slot(leap, z(2028, 6, 1)) == z(2028, 2, 29)
    assert latest_slot(leap, z(2027, 6, 1)) is None  # 2024-02-29 is beyond the look-back


def test_nominal_period_and_grace() -> None:
    midnight = spec("0 0 * * *", "Europe/Paris")
    assert nominal_period(midnight, z(2027, 3, 27, 12)) == timedelta(hours=23)
    assert nominal_period(midnight, z(2027, 10, 30, 12)) == timedelta(hours=25)
    assert catchup_grace(midnight, z(2027, 1, 1), cap=6 * HOUR) == 6 * HOUR
    assert catchup_grace(spec("*/5 * * * *", "UTC"), z(2027, 1, 1), cap=6 * HOUR) == 5 * MIN


def test_count_is_exact_over_months_and_stops_at_the_cap() -> None:
    every2 = spec("*/2 * * * *", "Europe/Paris")
    assert count_slots_between(every2, z(2027, 1, 1), z(2027, 7, 1), cap=10**9) == 181 * 720
    assert count_slots_between(every2, z(2027, 1, 1), z(2027, 7, 1)) == 100_000
    assert count_slots_between(every2, z(2027, 7, 1), z(2027, 1, 1)) == 0


# --- catch-up --------------------------------------------------------------------------------


def test_catch_up_with_nothing_missed() -> None:
    every5 = spec("*/5 * * * *", "UTC")
    got = catch_up(every5, since=z(2027, 1, 1, 10), now=z(2027, 1, 1, 10, 4), grace=5 * MIN)
    assert (got.run, got.missed, got.missed_total) == (None, (), 0)


def test_catch_up_runs_one_slot_missed_within_grace() -> None:
    every5 = spec("*/5 * * * *", "UTC")
    got = catch_up(every5, since=z(2027, 1, 1, 10), now=z(2027, 1, 1, 10, 7), grace=5 * MIN)
    assert (got.run, got.missed, got.missed_total) == (z(2027, 1, 1, 10, 5), (), 0)


def test_catch_up_runs_the_latest_of_many_and_records_the_others() -> None:
    every5 = spec("*/5 * * * *", "Europe/Paris")
    got = catch_up(every5, since=z(2027, 1, 1, 8), now=z(2027, 1, 1, 10, 2), grace=5 * MIN)
    assert got.run == z(2027, 1, 1, 10)
    assert got.missed == tuple(z(2027, 1, 1, 8, 5) + i * 5 * MIN for i in range(23))
    assert got.missed_total == 23


def test_catch_up_never_runs_a_latest_slot_older_than_grace() -> None:
    nightly = spec("30 2 * * *", "Europe/Paris")
    got = catch_up(nightly, since=z(2027, 1, 2, 1, 30), now=z(2027, 1, 4, 9), grace=6 * HOUR)
    assert got.run is None
    assert got.missed == (z(2027, 1, 3, 1, 30), z(2027, 1, 4, 1, 30))
    assert got.missed_total == 2


def test_catch_up_misses_a_late_slot_its_successor_is_about_to_replace() -> None:
    """Seconds before the next slot a late run would have no time left and race its successor
    for the job (seen after a clock jump that landed at :58): it is recorded missed."""
    minute = spec("* * * * *", "UTC")
    since = z(2027, 1, 1, 9)
    near_end = catch_up(minute, since, z(2027, 1, 1, 10, 0, 58), grace=MIN, min_window=3 * SEC)
    assert near_end.run is None
    assert near_end.missed[-1] == z(2027, 1, 1, 10)
    assert near_end.missed_total == 60
    in_time = catch_up(minute, since, z(2027, 1, 1, 10, 0, 56), grace=MIN, min_window=3 * SEC)
    assert in_time.run == z(2027, 1, 1, 10)
    assert in_time.missed_total == 59


def test_catch_up_after_months_down_records_the_newest_and_counts_all() -> None:
    every2 = spec("*/2 * * * *", "Europe/Paris")  # across the spring and autumn changes
    since, now = z(2026, 12, 1), z(2027, 12, 1, 9, 1)
    got = catch_up(every2, since=since, now=now, grace=2 * MIN, max_recorded=100)
    assert got.run == z(2027, 12, 1, 9)
    assert got.missed == tuple(z(2027, 12, 1, 9) - (100 - i) * 2 * MIN for i in range(100))
    assert got.missed_total == (z(2027, 12, 1, 9) - since) // (2 * MIN) - 1


# --- plan ------------------------------------------------------------------------------------


def test_plan_is_sorted_and_explains_each_dst_decision() -> None:
    paris = ZoneInfo("Europe/Paris")
    specs = {
        "nightly": CronSpec(Cron("30 2 * * *"), paris),
        "hourly": CronSpec(Cron("0 * * * *"), paris),
    }
    spring = plan(specs, z(2027, 3, 27, 12), hours=24)
    assert [(r.at, r.job) for r in spring] == sorted((r.at, r.job) for r in spring)
    moved = next(r for r in spring if r.job == "nightly")
    assert (moved.at, f"{moved.local:%H:%M %Z}") == (z(2027, 3, 28, 1), "03:00 CEST")
    assert moved.note == (
        "02:30 does not exist on 2027-03-28 (clocks spring forward): "
        "runs at 03:00 CEST, the first valid instant after"
    )
    autumn = {r.at: r.note for r in plan(specs, z(2027, 10, 30, 12), hours=24)}
    assert autumn[z(2027, 10, 31, 0, 30)] == (
        "02:30 occurs twice on 2027-10-31 (clocks fall back): "
        "runs on the first occurrence only (CEST)"
    )
    assert (
        autumn[z(2027, 10, 31, 1)] == "repeated hour: runs by elapsed time (second occurrence, CET)"
    )
    assert autumn[z(2027, 10, 30, 13)] is None
