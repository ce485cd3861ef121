"""Debian cron's DST rules (pure): how a slot is found when the zone's UTC offset changes.

- A fixed-time job (neither the minute nor the hour field starts with '*', e.g. `30 2 * * *`)
  follows local wall time, once per local day: a time that does not exist (clocks spring
  forward) runs at the first valid instant after it; a time that occurs twice (clocks fall
  back) runs on its first occurrence only.
- Any other job (`*/5 * * * *`, `0 * * * *`) follows elapsed time: an instant is a slot when
  its local wall time matches, so skipped wall times do not run and repeated ones run twice.

`dst_note` says which rule decided a slot, in plain words, for `brewd plan`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from zoneinfo import ZoneInfo

from cronsim import CronSim

SECOND, MICRO = timedelta(seconds=1), timedelta(microseconds=1)
_SCAN_STEP = timedelta(hours=6)  # tzdata 2024-2040 keeps every offset >= 6 days: none hidden


def is_fixed_time(expression: str) -> bool:
    """Debian cron's rule: neither the minute nor the hour field starts with '*'."""
    minute, hour = expression.split()[:2]
    return not minute.startswith("*") and not hour.startswith("*")


def offset(tz: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)


def first_change(tz: ZoneInfo, off: timedelta, start: datetime, end: datetime) -> datetime | None:
    """The first instant in (start, end] whose UTC offset is not `off`, to the second."""
    lo = start
    while lo < end:
        hi = min(lo + _SCAN_STEP, end)
        if offset(tz, hi) != off:
            while hi - lo > SECOND:
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(tz, mid) == off else (lo, mid)
            # tzdata changes offsets on whole seconds: the first one after lo
            return lo.replace(microsecond=0) + SECOND
        lo = hi
    return None


def naive(at: datetime, off: timedelta) -> datetime:
    return (at + off).replace(tzinfo=None)  # the wall time of `at` at that UTC offset


def fixed_slots(expression: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """A fixed-time job's slots strictly after `after` (aware UTC), ascending."""
    # cronsim walks local wall time for fixed-time 5-field expressions: once per local day, a
    # slot in a gap moves to the first valid minute after it, a slot in a fold takes fold=0.
    last = after
    for found in CronSim(expression, after.astimezone(tz)):
        slot = found.astimezone(UTC)
        if slot > last:  # `after` inside a fold, or gap slots collapsing onto one instant
            yield slot
            last = slot


def elapsed_slots(expression: str, tz: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Any other job's slots strictly after `after` (aware UTC), ascending."""
    # Walked one constant-offset stretch at a time, with naive cronsim arithmetic inside it
    # (cronsim's own zone handling skips slots around 30-minute shifts).
    start, inclusive = after, False
    while True:
        off = offset(tz, start)
        wall = naive(start, off) - (MICRO if inclusive else timedelta(0))
        prev = start
        for found in CronSim(expression, wall):
            slot = (found - off).replace(tzinfo=UTC)
            change = first_change(tz, off, prev, slot)
            if change is not None:
                start, inclusive = change, True
                break
            yield slot
            prev = slot
        else:
            return  # cronsim found nothing in 50 years


def dst_note(expression: str, tz: ZoneInfo, slot: datetime, prev: datetime) -> str | None:
    """The DST decision behind `slot` (the job's slot after `prev`), in plain words, or None."""
    local, fixed = slot.astimezone(tz), is_fixed_time(expression)
    change = first_change(tz, offset(tz, prev), prev, slot)
    gap, shift = (_gap(tz, change) if change else None), _fold_shift(local)
    if not fixed and shift:
        which = "second" if local.fold else "first"
        return f"repeated {shift}: runs by elapsed time ({which} occurrence, {local:%Z})"
    if not fixed:
        return gap and (
            f"{gap[0]:%H:%M}-{gap[1] - SECOND:%H:%M} skipped on {gap[0]:%Y-%m-%d} "
            "(clocks spring forward): runs by elapsed time"
        )
    skipped = _gap_walls(expression, *gap) if gap and change == slot else []
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
    before, after = offset(tz, change - SECOND), offset(tz, change)
    return (naive(change, before), naive(change, after)) if after > before else None


def _gap_walls(expression: str, start: datetime, end: datetime) -> list[str]:
    """The expression's wall times ('02:30') in the naive interval [start, end)."""
    walls = takewhile(end.__gt__, CronSim(expression, start - MICRO))
    return [f"{wall:%H:%M}" for wall in walls]
