"""Cron slots in the scheduler's time zone with Debian cron's DST rules, and catch-up (pure)."""

from __future__ import annotations

import sys
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from brewd.core.errors import ConfigError

# Missed-run policy (SPEC §5): after downtime only the newest due slot runs late, once, while
# younger than its grace; older slots are recorded `missed`, never replayed in a burst.
MAX_CATCHUP_GRACE = timedelta(hours=6)  # default grace is the job's period, at most this
MAX_RECORDED_MISSED = 100  # newest missed slots written one by one; the rest only counted

LOOKBACK = timedelta(days=400)  # latest_slot looks no further back: a year and a leap day
_DAY, _SECOND, _MICRO = timedelta(days=1), timedelta(seconds=1), timedelta(microseconds=1)
_SCAN_STEP = timedelta(hours=6)  # tzdata 2024-2040 keeps every offset >= 6 days: none hidden


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
        """Debian cron's rule: neither the minute nor the hour field starts with '*'."""
        minute, hour = self.expression.split()[:2]
        return not minute.startswith("*") and not hour.startswith("*")

    @property
    def day_seconds(self) -> tuple[int, ...]:
        """The seconds after midnight of the day's matching wall times, ascending."""
        return self._day_seconds

    def matches_day(self, day: date) -> bool:
        """Whether the month, day-of-month and day-of-week fields accept `day`."""
        return day.month in self._sim.months and self._sim.match_day(day)

    def walk(self, start: datetime) -> Iterator[datetime]:
        """cronsim's walk of the matching times after `start` (naive or aware). cronsim starts a
        walk only by building one from the text, which was checked in __post_init__."""
        return CronSim(self.expression, start)


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


def _offset(tz: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r}: a timezone-aware datetime is required")
    return at.astimezone(UTC)


def _first_change(tz: ZoneInfo, off: timedelta, start: datetime, end: datetime) -> datetime | None:
    """The first instant in (start, end] whose UTC offset is not `off`, to the second."""
    lo = start
    while lo < end:
        hi = min(lo + _SCAN_STEP, end)
        if _offset(tz, hi) != off:
            while hi - lo > _SECOND:
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(tz, mid) == off else (lo, mid)
            # tzdata changes offsets on whole seconds: the first one after lo
            return lo.replace(microsecond=0) + _SECOND
        lo = hi
    return None


def _naive(at: datetime, off: timedelta) -> datetime:
    return (at + off).replace(tzinfo=None)  # the wall time of `at` at that UTC offset


def _fixed_slots(spec: CronSpec, after: datetime) -> Iterator[datetime]:
    # cronsim walks local wall time for fixed-time 5-field expressions: once per local day, a
    # slot in a gap moves to the first valid minute after it, a slot in a fold takes fold=0.
    last = after
    for found in spec.cron.walk(after.astimezone(spec.tz)):
        slot = found.astimezone(UTC)
        if slot > last:  # `after` inside a fold, or gap slots collapsing onto one instant
            yield slot
            last = slot


def _elapsed_slots(spec: CronSpec, after: datetime) -> Iterator[datetime]:
    # Wildcard-hour jobs follow real time: an instant is a slot when its local wall time
    # matches. Walked one constant-offset stretch at a time, with naive cronsim arithmetic
    # inside it (cronsim's own zone handling skips slots around 30-minute shifts).
    start, inclusive = after, False
    while True:
        off = _offset(spec.tz, start)
        wall = _naive(start, off) - (_MICRO if inclusive else timedelta(0))
        prev = start
        for found in spec.cron.walk(wall):
            slot = (found - off).replace(tzinfo=UTC)
            change = _first_change(spec.tz, off, prev, slot)
            if change is not None:
                start, inclusive = change, True
                break
            yield slot
            prev = slot
        else:
            return  # cronsim found nothing in 50 years


def _slots(spec: CronSpec, after: datetime) -> Iterator[datetime]:
    """Every slot strictly after `after`, ascending, aware UTC."""
    after = _aware(after)
    return _fixed_slots(spec, after) if spec.fixed_time else _elapsed_slots(spec, after)


def next_slot(spec: CronSpec, after: datetime) -> datetime:
    """The first slot strictly after `after`."""
    slot = next(_slots(spec, after), None)
    if slot is None:
        raise ConfigError(f"cron expression {spec.expression!r}: no slot in the next 50 years")
    return slot


def latest_slot(spec: CronSpec, at: datetime) -> datetime | None:
    """The latest slot <= at, looking back at most LOOKBACK; None if there is none."""
    at = _aware(at)
    for window in (timedelta(minutes=10), timedelta(hours=2), _DAY * 2, _DAY * 32, LOOKBACK):
        last = deque(_slots_until(spec, at - window, at), maxlen=1)
        if last:
            return last[0]
    return None


def slots_between(spec: CronSpec, after: datetime, until: datetime) -> list[datetime]:
    """The slots s with after < s <= until, ascending."""
    return list(_slots_until(spec, after, until))


def _slots_until(spec: CronSpec, after: datetime, until: datetime) -> Iterator[datetime]:
    return takewhile(_aware(until).__ge__, _slots(spec, after))


def count_slots_between(
    spec: CronSpec, after: datetime, until: datetime, cap: int = 100_000
) -> int:
    """len(slots_between(...)), at most `cap`, by arithmetic away from offset changes."""
    after, until = _aware(after), _aware(until)
    if until <= after:
        return 0
    total, start = 0, after
    # Fixed-time rules act within a day of an offset change: walk slots there, count elsewhere.
    change = _first_change(spec.tz, _offset(spec.tz, after - _DAY), after - _DAY, until)
    while change is not None and total < cap:
        near_start, near_end = max(start, change - _DAY), min(until, change + _DAY)
        total += _count_plain(spec, start, near_start)
        total += sum(1 for _ in islice(_slots_until(spec, near_start, near_end), cap))
        start = max(start, near_end)
        change = _first_change(spec.tz, _offset(spec.tz, change), change, until)
    total += _count_plain(spec, start, until)
    return min(total, cap)


def _count_plain(spec: CronSpec, after: datetime, until: datetime) -> int:
    """Slots in (after, until] when the UTC offset is constant there: matching wall minutes."""
    if until <= after:
        return 0
    off = _offset(spec.tz, until)
    low, high = _naive(after, off), _naive(until, off)
    first = day = low.replace(hour=0, minute=0, second=0, microsecond=0)
    total = 0
    while day <= high:
        if spec.cron.matches_day(day.date()):
            lo = (low - day).total_seconds() if day == first else -1.0
            hi = (high - day).total_seconds() if day + _DAY > high else 86_400.0
            total += bisect_right(spec.cron.day_seconds, hi) - bisect_right(
                spec.cron.day_seconds, lo
            )
        day += _DAY
    return total


def nominal_period(spec: CronSpec, at: datetime) -> timedelta:
    """The gap between the next two slots after `at`."""
    first = next_slot(spec, at)
    return next_slot(spec, first) - first


def catchup_grace(spec: CronSpec, at: datetime, cap: timedelta) -> timedelta:
    """How late a missed slot may still run: the job's period, at most `cap` (SPEC §5)."""
    return min(nominal_period(spec, at), cap)


@dataclass(frozen=True)
class CatchUp:
    """What to do about the slots that passed while nobody ran them."""

    run: datetime | None  # the one slot to run late now (trigger 'catchup'), or None
    missed: tuple[datetime, ...]  # to record as missed, ascending: the newest max_recorded
    missed_total: int  # every missed slot, including those beyond max_recorded


def catch_up(
    spec: CronSpec,
    since: datetime,
    now: datetime,
    grace: timedelta,
    max_recorded: int = MAX_RECORDED_MISSED,
) -> CatchUp:
    """Judge the slots in (since, now]: the latest runs iff it is within grace, the rest missed."""
    since, now = _aware(since), _aware(now)
    latest = latest_slot(spec, now)
    if latest is None or latest <= since:
        return CatchUp(run=None, missed=(), missed_total=0)
    run = latest if now - latest <= grace else None
    end = latest - _MICRO if run is not None else latest
    newest = _newest_slots(spec, since, end, max_recorded)
    total = count_slots_between(spec, since, end, cap=sys.maxsize)  # exact: arithmetic is cheap
    return CatchUp(run=run, missed=newest, missed_total=total)


def _newest_slots(spec: CronSpec, after: datetime, until: datetime, n: int) -> tuple[datetime, ...]:
    """The newest n slots in (after, until], ascending, without walking from `after`."""
    window = timedelta(hours=1)
    while n > 0 and until > after:
        found = slots_between(spec, max(after, until - window), until)
        if len(found) >= n or until - window <= after:
            return tuple(found[-n:])
        window *= 4
    return ()


@dataclass(frozen=True)
class PlannedSlot:
    """One coming run of a job, for `brewd plan`."""

    job: str
    at: datetime  # UTC
    local: datetime  # in spec.tz
    note: str | None  # the DST decision, if any, in plain words


def plan(specs: Mapping[str, CronSpec], now: datetime, hours: int) -> list[PlannedSlot]:
    """Every job's slots in (now, now + hours], sorted by time then job, with DST notes."""
    now = _aware(now)
    rows: list[PlannedSlot] = []
    for job, spec in specs.items():
        prev = now
        for at in slots_between(spec, now, now + timedelta(hours=hours)):
            rows.append(PlannedSlot(job, at, at.astimezone(spec.tz), dst_note(spec, at, prev)))
            prev = at
    return sorted(rows, key=lambda row: (row.at, row.job))


def dst_note(spec: CronSpec, slot: datetime, prev: datetime) -> str | None:
    """The DST decision behind `slot` (the job's slot after `prev`), in plain words, or None."""
    local, tz = slot.astimezone(spec.tz), spec.tz
    change = _first_change(tz, _offset(tz, prev), prev, slot)
    gap, shift = (_gap(tz, change) if change else None), _fold_shift(local)
    if not spec.fixed_time and shift:
        which = "second" if local.fold else "first"
        return f"repeated {shift}: runs by elapsed time ({which} occurrence, {local:%Z})"
    if not spec.fixed_time:
        return gap and (
            f"{gap[0]:%H:%M}-{gap[1] - _SECOND:%H:%M} skipped on {gap[0]:%Y-%m-%d} "
            "(clocks spring forward): runs by elapsed time"
        )
    skipped = _gap_walls(spec, *gap) if gap and change == slot else []
    if skipped:
        verb = "does" if len(skipped) == 1 else "do"
        return (
            f"{', '.join(skipped)} {verb} not exist on {local:%Y-%m-%d} (clocks spring "
            f"forward): runs at {local:%H:%M %Z}, the first valid instant after"
        )
    return shift and (
        f"{local:%H:%M} occurs twice on {local:%Y-%m-%d} (clocks fall back): "
        f"runs on the first occurrence only ({local:%Z})"
    )


def _fold_shift(local: datetime) -> str | None:
    """'hour' or 'N minutes' when this wall time occurs twice (a fold), else None."""
    first, second = (local.replace(fold=f).utcoffset() or timedelta(0) for f in (0, 1))
    minutes = (first - second) // timedelta(minutes=1)
    return None if minutes <= 0 else "hour" if minutes == 60 else f"{minutes} minutes"


def _gap(tz: ZoneInfo, change: datetime) -> tuple[datetime, datetime] | None:
    """The naive wall times [start, end) skipped by the offset change at `change`, if any."""
    before, after = _offset(tz, change - _SECOND), _offset(tz, change)
    return (_naive(change, before), _naive(change, after)) if after > before else None


def _gap_walls(spec: CronSpec, start: datetime, end: datetime) -> list[str]:
    """The expression's wall times ('02:30') in the naive interval [start, end)."""
    walls = takewhile(end.__gt__, spec.cron.walk(start - _MICRO))
    return [f"{wall:%H:%M}" for wall in walls]
