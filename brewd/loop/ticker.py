"""The tick source: the `schedule` library tells the loop when to wake, an Event lets anyone
wake it early. What is due at that moment is decided by brewd's own slot arithmetic."""

from __future__ import annotations

import threading

import schedule

# `schedule` keeps naive local wall-clock times; we re-arm it before every wait, so a clock
# jump can at worst shorten or lengthen one wait, and the loop re-plans after it.
MIN_DELAY_S = 0.001


class Ticker:
    """One-shot alarm on a `schedule.Scheduler`, waited for on a threading.Event."""

    def __init__(self) -> None:
        self._scheduler = schedule.Scheduler()
        self.wake = threading.Event()

    def arm(self, delay_s: float) -> None:
        """Ring once, `delay_s` seconds from now (replacing any earlier alarm)."""
        self._scheduler.clear()
        # `every` is annotated int, but the interval only feeds timedelta(seconds=...), and
        # sub-second precision is what keeps the schedule lag low.
        delay = max(delay_s, MIN_DELAY_S)
        self._scheduler.every(delay).seconds.do(self._ring)  # type: ignore[arg-type]

    def wait(self) -> bool:
        """Sleep until the alarm or an early wake; True when woken early (stop, reload,
        trigger). Never polls: one Event.wait for the whole interval."""
        idle = self._scheduler.idle_seconds
        woken = self.wake.wait(timeout=max(idle or 0.0, 0.0))
        self.wake.clear()
        self._scheduler.run_pending()
        return woken

    def _ring(self) -> type[schedule.CancelJob]:
        return schedule.CancelJob  # one shot: the loop re-arms for the next due slot

    def poke(self) -> None:
        """Wake the loop now (thread-safe)."""
        self.wake.set()
