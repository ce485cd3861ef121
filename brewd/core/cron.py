"""Cron slots in the scheduler's time zone (pure): parsing a five-field expression and walking
its slots. How a slot is found across a DST change is brewd/core/dst.py; what happens to the
slots nobody ran is brewd/core/catchup.py."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from brewd.core.dst import (
    dst_note,
    elapsed_slots,
    first_change,
    fixed_slots,
    is_fixed_time,
    naive,
    offset,
)
from brewd.core.errors import ConfigError

LOOKBACK = timedelta(days=400)  # latest_slot looks no further back: a year and a leap day
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Cron:
    """A standard five-field cron expression, parsed and checked once: the configuration holds
    a job's schedule as a Cron from the moment it is loaded. ValueError names the problem."""

    expression: str
    _sim: CronSim = field(init=False, repr=False, compare=False)
    _day_seconds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.expression.split()) != 5:
            raise ValueError('expected a five-field cron expression such as "*/5 * * * *"')
        try:
            sim = CronSim(self.expression, datetime(2000, 1, 1))
        except (CronSimError, ValueError) as exc:
            raise ValueError(f"invalid cron expression ({exc})") from None
        seconds = sorted(h * 3600 + m * 60 for h in sim.hours for m in sim.minutes)
        object.__setattr__(self, "_sim", sim)
        object.__setattr__(self, "_day_seconds", tuple(seconds))

    def __str__(self) -> str:
        return self.expression

    @property
    def fixed_time(self) -> bool:
        """Follows local wall time rather than elapsed time across DST (brewd/core/dst.py)."""
        return is_fixed_time(self.expression)

    def matches_day(self, day: date) -> bool:
        """The month, day-of-month and day-of-week fields accept `day`."""
        return day.month in self._sim.months and self._sim.match_day(day)

    def day_slots_between(self, low: float, high: float) -> int:
        """How many of a matching day's times are in (low, high], in seconds since midnight."""
        return bisect_right(self._day_seconds, high) - bisect_right(self._day_seconds, low)


@dataclass(frozen=True)
class CronSpec:
    """A job's cron expression read in the scheduler's time zone."""

    cron: Cron
    tz: ZoneInfo

    @property
    def expression(self) -> str:
        return self.cron.expression

    @property
    def fixed_time(self) -> bool:
        return self.cron.fixed_time

    def matches_day(self, day: datetime) -> bool:
        """The month, day-of-month and day-of-week fields accept this (naive) day."""
        return self.cron.matches_day(day.date())

    def day_slots_between(self, low: float, high: float) -> int:
        return self.cron.day_slots_between(low, high)


def aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r}: a timezone-aware datetime is required")
    return at.astimezone(UTC)


def _slots(spec: CronSpec, after: datetime) -> Iterator[datetime]:
    """Every slot strictly after `after`, ascending, aware UTC."""
    walk = fixed_slots if spec.fixed_time else elapsed_slots
    return walk(spec.expression, spec.tz, aware(after))


def next_slot(spec: CronSpec, after: datetime) -> datetime:
    """The first slot strictly after `after`."""
    slot = next(_slots(spec, after), None)
    if slot is None:
        raise ConfigError(f"cron expression {spec.expression!r}: no slot in the next 50 years")
    return slot


def latest_slot(spec: CronSpec, at: datetime) -> datetime | None:
    """The latest slot <= at, looking back at most LOOKBACK; None if there is none."""
    at = aware(at)
    for window in (timedelta(minutes=10), timedelta(hours=2), _DAY * 2, _DAY * 32, LOOKBACK):
        last = deque(_slots_until(spec, at - window, at), maxlen=1)
        if last:
            return last[0]
    return None


def slots_between(spec: CronSpec, after: datetime, until: datetime) -> list[datetime]:
    """The slots s with after < s <= until, ascending."""
    return list(_slots_until(spec, after, until))


def _slots_until(spec: CronSpec, after: datetime, until: datetime) -> Iterator[datetime]:
    return takewhile(aware(until).__ge__, _slots(spec, after))


def count_slots_between(
    spec: CronSpec, after: datetime, until: datetime, cap: int = 100_000
) -> int:
    """len(slots_between(...)), at most `cap`, by arithmetic away from offset changes."""
    after, until = aware(after), aware(until)
    if until <= after:
        return 0
    total, start = 0, after
    # Fixed-time rules act within a day of an offset change: walk slots there, count elsewhere.
    change = first_change(spec.tz, offset(spec.tz, after - _DAY), after - _DAY, until)
    while change is not None and total < cap:
        near_start, near_end = max(start, change - _DAY), min(until, change + _DAY)
        total += _count_plain(spec, start, near_start)
        total += sum(1 for _ in islice(_slots_until(spec, near_start, near_end), cap))
        start = max(start, near_end)
        change = first_change(spec.tz, offset(spec.tz, change), change, until)
    total += _count_plain(spec, start, until)
    return min(total, cap)


def _count_plain(spec: CronSpec, after: datetime, until: datetime) -> int:
    """Slots in (after, until] when the UTC offset is constant there: matching wall minutes."""
    if until <= after:
        return 0
    off = offset(spec.tz, until)
    low, high = naive(after, off), naive(until, off)
    first = day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    total = 0
    while day <= high:
        if spec.matches_day(day):
            lo = (low - day).total_seconds() if day == first else -1.0
            hi = (high - day).total_seconds() if day + _DAY > high else 86_400.0
            total += spec.day_slots_between(lo, hi)
        day += _DAY
    return total


def nominal_period(spec: CronSpec, at: datetime) -> timedelta:
    """The gap between the next two slots after `at`."""
    first = next_slot(spec, at)
    return next_slot(spec, first) - first


@dataclass(frozen=True)
class PlannedSlot:
    """One coming run of a job, for `brewd plan`."""

    job: str
    at: datetime  # UTC
    local: datetime  # in spec.tz
    note: str | None  # the DST decision, if any, in plain words


def plan(specs: Mapping[str, CronSpec], now: datetime, hours: int) -> list[PlannedSlot]:
    """Every job's slots in (now, now + hours], sorted by time then job, with DST notes."""
    now = aware(now)
    rows: list[PlannedSlot] = []
    for job, spec in specs.items():
        prev = now
        for at in slots_between(spec, now, now + timedelta(hours=hours)):
            note = dst_note(spec.expression, spec.tz, at, prev)
            rows.append(PlannedSlot(job, at, at.astimezone(spec.tz), note))
            prev = at
    return sorted(rows, key=lambda row: (row.at, row.job))
