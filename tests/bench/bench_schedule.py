"""Benchmark: catch-up decisions and slot counts after long downtime (prints its own figures)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from brewd.core.catchup import DEFAULT_MAX_GRACE_S, catch_up, catchup_grace
from brewd.core.cron import Cron, CronSpec, next_slot

NOW = datetime(2027, 12, 1, 9, 1, tzinfo=UTC)  # the downtime below spans both DST changes
CASES = [("*/2 * * * *", 200), ("*/5 * * * *", 200), ("0 * * * *", 365), ("30 2 * * *", 365)]


def main() -> None:
    paris = ZoneInfo("Europe/Paris")
    for expression, days in CASES:
        spec = CronSpec(Cron(expression), paris)
        grace = catchup_grace(spec, NOW, timedelta(seconds=DEFAULT_MAX_GRACE_S))
        start = time.perf_counter()
        got = catch_up(spec, NOW - timedelta(days=days), NOW, grace)
        ms = (time.perf_counter() - start) * 1000
        print(
            f"catch_up {expression:<12} down {days:>3} d: {got.missed_total:>7} missed "
            f"({len(got.missed)} recorded) in {ms:6.1f} ms"
        )
    spec, at, start = CronSpec(Cron("*/2 * * * *"), paris), NOW, time.perf_counter()
    for _ in range(10_000):
        at = next_slot(spec, at)
    print(f"next_slot */2 * * * *: {(time.perf_counter() - start) * 100:.0f} us per call")


if __name__ == "__main__":
    main()
