"""Loaded (via PYTHONPATH) only by chaos-run nodes started under libfaketime.

libfaketime 0.9.10 (Debian 12) fails clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) with
EINVAL when monotonic time is left unfaked, and Python 3.11's time.sleep() uses exactly that
call: every sleep in a library (psycopg_pool's reconnection back-off) would raise OSError.
select() with a relative timeout sleeps the same and is untouched by libfaketime."""

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep  # type: ignore[assignment]
