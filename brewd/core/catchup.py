"""Catch-up and missed slots (pure, SPEC §5): what happens to the slots that passed while
nobody ran them (downtime, a paused job, a clock jump, a loop that fell behind).

Only the newest due slot runs late, once, while it is younger than the job's grace (its
period, at most scheduler.max_catchup_grace, default DEFAULT_MAX_GRACE_S); every older slot is
recorded 'missed' with the reason, never replayed in a burst. The same grace tells the
watchdog that a loop stopped firing (`overdue`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

from brewd.core.cron import (
    CronSpec,
    aware,
    count_slots_between,
    latest_slot,
    next_slot,
    nominal_period,
    slots_between,
)

DEFAULT_MAX_GRACE_S = 6 * 60 * 60.0  # scheduler.max_catchup_grace: never run a slot this late
MAX_RECORDED_MISSED = 100  # newest missed slots written one by one; the rest only counted
# A slot dispatched later than this is labelled 'catchup', not 'schedule'; a run submitted to
# the pool this long ago that has not started means the pool is exhausted (the watchdog).
LATE_AFTER_S = 60.0
_MICRO = timedelta(microseconds=1)


def catchup_grace(spec: CronSpec, at: datetime, cap: timedelta) -> timedelta:
    """How late a missed slot may still run: the job's period, at most `cap`."""
    return min(nominal_period(spec, at), cap)


def overdue(spec: CronSpec, next_due: datetime, now: datetime, cap: timedelta) -> bool:
    """The slot due at `next_due` should have fired by `now`, even late."""
    return now - next_due > catchup_grace(spec, now, cap)


def trigger_for(slot: datetime, now: datetime, start_up: bool) -> str:
    """The trigger a dispatched slot is recorded with: 'catchup' when run late."""
    late = (now - slot).total_seconds()
    return "catchup" if start_up or late > LATE_AFTER_S else "schedule"


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
    min_window: timedelta = timedelta(0),
) -> CatchUp:
    """Judge the slots in (since, now]: the latest runs iff it is within grace and at least
    `min_window` before the job's next slot, the rest missed. A slot that late would only be
    cut off by its successor (a run must end before the next slot starts), which follows
    within seconds and does the same work."""
    since, now = aware(since), aware(now)
    latest = latest_slot(spec, now)
    if latest is None or latest <= since:
        return CatchUp(run=None, missed=(), missed_total=0)
    in_time = now - latest <= grace and next_slot(spec, now) - now >= min_window
    run = latest if in_time else None
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
