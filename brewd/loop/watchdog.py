"""The systemd watchdog: when WATCHDOG=1 is sent. Only while the loop really fires: a loop
that goes round but no longer dispatches (a job overdue past its catch-up grace, or runs the
exhausted pool never started) starves the watchdog, and systemd restarts the daemon."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from brewd.core.catchup import LATE_AFTER_S, overdue
from brewd.core.cron import CronSpec

FEED_AT = 0.9  # of WATCHDOG_USEC: pinged a little early, so a slow turn is not a missed ping
STALLED_AFTER_S = LATE_AFTER_S  # a submitted run not started this long after: the pool is full


class WatchdogNotifier(Protocol):
    """What the watchdog needs of brewd.adapters.systemd.Notifier."""

    @property
    def watchdog_interval(self) -> float | None: ...

    def watchdog(self) -> None: ...


def overdue_jobs(
    due: Iterable[tuple[str, CronSpec, datetime]],
    stalled: Iterable[str],
    now: datetime,
    max_grace: timedelta,
) -> list[str]:
    """ "Running but nothing fires": enabled jobs (name, spec, next due slot) the loop should
    have fired by `now`, past their grace, and jobs submitted to the pool more than
    STALLED_AFTER_S ago that never started (`stalled`)."""
    late = {name for name, spec, next_due in due if overdue(spec, next_due, now, max_grace)}
    return sorted(late | set(stalled))


class Watchdog:
    """Sends WATCHDOG=1 at most once per 0.9 interval, and never while a job is overdue."""

    def __init__(self, notifier: WatchdogNotifier | None) -> None:
        self.notifier = notifier
        self.last = float("-inf")  # monotonic time of the last ping

    def due_in(self, mono: float) -> float | None:
        """Seconds until the next ping is due; None without a watchdog."""
        interval = self.notifier.watchdog_interval if self.notifier else None
        return self.last + interval - mono if interval else None

    def feed(self, mono: float, overdue_now: list[str]) -> bool:
        """Ping if due and nothing is overdue; True when it pinged."""
        interval = self.notifier.watchdog_interval if self.notifier else None
        if not self.notifier or not interval or mono - self.last < interval * FEED_AT:
            return False
        if overdue_now:  # a loop that stopped firing must get restarted
            return False
        self.notifier.watchdog()
        self.last = mono
        return True
