"""When WATCHDOG=1 is sent: at 0.9 of the interval, never while a job is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from brewd.core.cron import Cron, CronSpec
from brewd.loop.watchdog import Watchdog, overdue_jobs


class Notifier:
    watchdog_interval: float | None = 10.0

    def __init__(self) -> None:
        self.pings = 0

    def watchdog(self) -> None:
        self.pings += 1


def test_pings_once_per_nine_tenths_of_the_interval() -> None:
    notifier = Notifier()
    dog = Watchdog(notifier)
    assert dog.feed(100.0, [])
    assert not dog.feed(108.9, [])
    assert dog.due_in(108.9) == pytest.approx(1.1)  # the loop wakes by the full interval
    assert dog.feed(109.0, [])
    assert notifier.pings == 2


def test_an_overdue_job_starves_it_and_no_interval_means_no_watchdog() -> None:
    notifier = Notifier()
    assert not Watchdog(notifier).feed(100.0, ["expireUsers"])
    notifier.watchdog_interval = None
    assert Watchdog(notifier).due_in(0.0) is None
    assert not Watchdog(notifier).feed(100.0, [])
    assert notifier.pings == 0


def test_a_job_is_overdue_past_its_grace_and_a_stalled_one_always() -> None:
    hourly = CronSpec(Cron("0 * * * *"), ZoneInfo("UTC"))
    due = datetime(2027, 1, 1, 11, tzinfo=UTC)
    cap = timedelta(hours=6)
    assert overdue_jobs([("h", hourly, due)], [], due + timedelta(minutes=59), cap) == []
    assert overdue_jobs([("h", hourly, due)], [], due + timedelta(minutes=61), cap) == ["h"]
    assert overdue_jobs([], ["stuck"], due, cap) == ["stuck"]
