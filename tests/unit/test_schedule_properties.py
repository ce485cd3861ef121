"""Properties of the slot layer across six zones and random instants in 2026-2035 (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from cronsim import CronSim
from hypothesis import given, settings
from hypothesis import strategies as st

from brewd.core.catchup import catch_up
from brewd.core.cron import (
    CronSpec,
    count_slots_between,
    latest_slot,
    next_slot,
    slots_between,
)
from tests.unit.test_schedule import HOUR, MIN, spec, transitions

# --- properties ------------------------------------------------------------------------------
# Instants are uniform in 2026-2035 or within 6 h of an offset change of the drawn zone.

ZONES = (
    "Europe/Paris",
    "America/New_York",
    "Australia/Adelaide",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
)
FIXED = ("30 2 * * *", "0 0 * * *", "5 0 * * *", "15 2 * * *", "45 1 * * 0", "0,30 2,3 * * *")
WILD = ("0 * * * *", "5 * * * *", "*/5 * * * *", "*/2 * * * *", "30 * * * *", "*/20 * * * *")
WILD_MORE = ("0 */2 * * *", "*/15 2 * * *", "*/10 1 * * 0")
PROPERTY = settings(max_examples=40, deadline=None)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(ZONES))
    changes = transitions(zone, draw(st.integers(2026, 2035)))
    near_a_change: bool = draw(st.booleans())
    if changes and near_a_change:
        offset = timedelta(seconds=draw(st.integers(-6 * 3600, 6 * 3600)))
        return zone, draw(st.sampled_from(changes)) + offset
    naive = draw(st.datetimes(datetime(2026, 1, 1), datetime(2035, 12, 31)))
    return zone, naive.replace(tzinfo=UTC)


def reference_elapsed(every: CronSpec, after: datetime, until: datetime) -> list[datetime]:
    """Wildcard-hour jobs by definition: each whole UTC minute whose local wall time matches."""
    sim, found = CronSim(every.expression, datetime(2000, 1, 1)), list[datetime]()
    at = after.replace(second=0, microsecond=0) + MIN
    while at <= until:
        wall = at.astimezone(every.tz)
        if wall.minute in sim.minutes and wall.hour in sim.hours and sim.match_day(wall.date()):
            found.append(at)
        at += MIN
    return found


def reference_fixed(every: CronSpec, after: datetime, until: datetime) -> list[datetime]:
    """Fixed-time jobs by Debian's rule: each local day's times, a gap moving one to the first
    valid minute after it, a fold taking the first occurrence; one run per instant."""
    sim, found = CronSim(every.expression, datetime(2000, 1, 1)), list[datetime]()
    day = after.astimezone(every.tz).date() - timedelta(days=1)
    while day <= until.astimezone(every.tz).date():
        times = sorted((h, m) for h in sim.hours for m in sim.minutes)
        for h, m in times if sim.match_day(day) else []:
            wall = datetime(day.year, day.month, day.day, h, m)
            while (
                wall.replace(tzinfo=every.tz)
                .astimezone(UTC)
                .astimezone(every.tz)
                .replace(tzinfo=None)
                != wall
            ):  # does not exist: a spring-forward gap
                wall += MIN
            at = wall.replace(tzinfo=every.tz, fold=0).astimezone(UTC)
            if not found or at > found[-1]:
                found.append(at)
        day += timedelta(days=1)
    return [at for at in found if after < at <= until]


@PROPERTY
@given(zone_and_instant(), st.sampled_from(FIXED + WILD + WILD_MORE))
def test_next_slot_is_a_whole_minute_strictly_after(case: tuple[str, datetime], expr: str) -> None:
    zone, at = case
    found = next_slot(spec(expr, zone), at)
    assert found > at
    assert (found.second, found.microsecond, found.tzinfo) == (0, 0, UTC)


@PROPERTY
@given(zone_and_instant(), st.sampled_from(FIXED + WILD + WILD_MORE))
def test_slots_match_the_reference_and_iterating_next_slot(
    case: tuple[str, datetime], expr: str
) -> None:
    zone, at = case
    every = spec(expr, zone)
    until = at + (timedelta(days=3) if every.fixed_time else 6 * HOUR)
    slots = slots_between(every, at, until)
    reference = reference_fixed if every.fixed_time else reference_elapsed
    assert slots == reference(every, at, until)
    assert all(a < b for a, b in pairwise(slots))  # strictly increasing: no duplicates
    chained, cursor = [], at
    while (cursor := next_slot(every, cursor)) <= until:
        chained.append(cursor)
    assert chained == slots
    assert count_slots_between(every, at, until) == len(slots)


@PROPERTY
@given(
    zone_and_instant(),
    st.integers(0, 59),
    st.integers(0, 23),
    st.sampled_from(["*", "0", "1-5"]),
)
def test_fixed_time_runs_once_on_each_matching_local_day(
    case: tuple[str, datetime], minute: int, hour: int, dow: str
) -> None:
    zone, at = case
    every = spec(f"{minute} {hour} * * {dow}", zone)
    slots = slots_between(every, at - timedelta(days=4), at + timedelta(days=4))
    first = (at - timedelta(days=4)).astimezone(every.tz).date() + timedelta(days=1)
    for day in (first + timedelta(days=i) for i in range(6)):  # local days wholly inside
        on_day = [s for s in slots if s.astimezone(every.tz).date() == day]
        matches = (
            dow == "*"
            or (dow == "0" and day.weekday() == 6)
            or (dow == "1-5" and day.weekday() < 5)
        )
        assert len(on_day) == (1 if matches else 0), (day, on_day)


@PROPERTY
@given(zone_and_instant(), st.sampled_from([1, 2, 3, 5, 6, 10, 15, 30, 4, 12, 20]))
def test_every_n_minutes_keeps_elapsed_pace(case: tuple[str, datetime], step: int) -> None:
    """`*/N`: consecutive slots are exactly N minutes apart in elapsed time whenever N divides 30
    (every offset change of these zones is a multiple of 30 minutes). For N = 4, 12, 20 they
    are N apart except across Lord Howe's 30-minute changes, where the pace breaks only when
    an offset change lies between the two slots."""
    zone, at = case
    every = spec(f"*/{step} * * * *", zone)
    slots = slots_between(every, at, at + 6 * HOUR)
    offset = {s: s.astimezone(every.tz).utcoffset() for s in slots}
    for a, b in pairwise(slots):
        if 30 % step == 0:
            assert b - a == step * MIN
        elif b - a != step * MIN:
            assert offset[a] != offset[b]


@PROPERTY
@given(zone_and_instant(), st.sampled_from(FIXED + WILD + WILD_MORE))
def test_latest_slot_brackets_the_instant(case: tuple[str, datetime], expr: str) -> None:
    zone, at = case
    every = spec(expr, zone)
    latest = latest_slot(every, at)
    assert latest is not None
    assert latest <= at < next_slot(every, latest)
    assert latest_slot(every, latest) == latest


@PROPERTY
@given(
    zone_and_instant(),
    st.sampled_from(FIXED + WILD),
    st.integers(1, 3 * 24 * 60),
    st.integers(1, 24 * 60),
    st.integers(0, 30),
)
def test_catch_up_partitions_the_slots_it_judges(
    case: tuple[str, datetime], expr: str, down: int, grace: int, max_recorded: int
) -> None:
    zone, since = case
    every, now = spec(expr, zone), since + down * MIN
    judged = slots_between(every, since, now)
    got = catch_up(every, since, now, grace * MIN, max_recorded=max_recorded)
    if not judged:
        assert (got.run, got.missed, got.missed_total) == (None, (), 0)
        return
    runs = now - judged[-1] <= grace * MIN
    missed = judged[:-1] if runs else judged
    assert got.run == (judged[-1] if runs else None)
    assert got.missed == tuple(missed[-max_recorded:] if max_recorded else ())
    assert got.missed_total == len(missed)


@pytest.mark.parametrize("zone", ZONES)
def test_every_transition_of_2026_to_2030_matches_the_reference(zone: str) -> None:
    """Not left to chance: each offset change, each expression, 4 h either side."""
    for change in (c for year in range(2026, 2031) for c in transitions(zone, year)):
        for expr in FIXED + WILD + WILD_MORE + ("45 * * * *",):
            every = spec(expr, zone)
            after, until = change - 4 * HOUR, change + 4 * HOUR
            reference = reference_fixed if every.fixed_time else reference_elapsed
            assert slots_between(every, after, until) == reference(every, after, until), expr
