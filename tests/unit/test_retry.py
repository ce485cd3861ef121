"""The retry policy's arithmetic: backoff, the transient-error test and the run window."""

from __future__ import annotations

import pytest

from brewd.core.errors import DatabaseError, DatabaseUnavailable, FenceLost, TransientDatabaseError
from brewd.runs.retry import (
    LOCK_WAIT_CAP_S,
    MAX_ATTEMPTS,
    MIN_ATTEMPT_S,
    RECORD_MARGIN_S,
    AttemptLimits,
    RunWindow,
    backoff,
    is_transient,
    next_slot_at,
)


def test_backoff_doubles_from_half_a_second_with_jitter_and_is_capped() -> None:
    assert [backoff(n, jitter=0.5) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff(1, jitter=0.0) == 0.25
    assert backoff(1, jitter=0.999) == pytest.approx(0.7495)
    assert backoff(20, jitter=0.5) == 30.0
    assert all(0.25 <= backoff(1) < 0.75 for _ in range(200))


def test_a_cancelled_statement_is_not_transient_but_a_lock_timeout_is() -> None:
    from psycopg import errors as pg_errors

    from brewd.adapters.pg import wrap_errors

    def translated(exc: Exception) -> BaseException:
        with pytest.raises(DatabaseError) as info, wrap_errors():
            raise exc
        return info.value

    assert not is_transient(translated(pg_errors.QueryCanceled("statement timeout")))
    assert is_transient(translated(pg_errors.LockNotAvailable("lock timeout")))
    assert is_transient(translated(pg_errors.AdminShutdown("terminating connection")))
    assert is_transient(translated(pg_errors.DeadlockDetected("deadlock detected")))


def test_only_transient_database_errors_are_retried() -> None:
    assert is_transient(TransientDatabaseError("deadlock"))
    assert is_transient(DatabaseUnavailable("connection lost"))
    assert not is_transient(DatabaseError("UndefinedTable"))
    assert not is_transient(FenceLost())
    assert not is_transient(ValueError("bug"))


def test_a_scheduled_run_ends_a_margin_before_its_next_slot() -> None:
    window = RunWindow.of(started=100.0, timeout=600.0, next_slot_at=160.0)
    assert window.ends_at == 160.0 - RECORD_MARGIN_S
    assert window.deadline == 700.0
    assert window.cut_by_next_slot


def test_a_manual_run_or_a_short_timeout_ends_at_its_deadline() -> None:
    manual = RunWindow.of(started=100.0, timeout=30.0, next_slot_at=None)
    assert (manual.ends_at, manual.cut_by_next_slot) == (130.0, False)
    short = RunWindow.of(started=100.0, timeout=10.0, next_slot_at=160.0)
    assert (short.ends_at, short.cut_by_next_slot) == (110.0, False)


def test_every_attempt_is_bounded_by_what_is_left_and_a_lock_wait_by_half_of_it() -> None:
    window = RunWindow.of(started=0.0, timeout=600.0, next_slot_at=60.0)  # ends at 58 s
    assert window.limits(0.0) == AttemptLimits(58_000, 29_000)
    hourly = RunWindow.of(started=0.0, timeout=600.0, next_slot_at=3600.0)
    assert hourly.limits(0.0) == AttemptLimits(600_000, int(LOCK_WAIT_CAP_S * 1000))
    # The case: attempt 1 timed out on a lock at 30 s; attempt 2 must not wait 30 s more.
    assert window.limits(30.5) == AttemptLimits(27_500, 13_750)
    assert window.limits(57.9) == AttemptLimits(100, 50)
    assert window.limits(58.0) is None
    assert window.limits(70.0) is None


def test_a_retry_starts_only_with_time_left_for_it_and_attempts_to_spare() -> None:
    window = RunWindow.of(started=0.0, timeout=600.0, next_slot_at=60.0)
    assert window.may_retry(1, now=30.0, delay=0.5)
    assert window.may_retry(1, now=56.0, delay=1.0)  # 56 + 1 + 1 = 58: just fits
    assert not window.may_retry(1, now=56.5, delay=1.0)
    assert not window.may_retry(1, now=58.0 - MIN_ATTEMPT_S, delay=0.1)
    assert not window.may_retry(MAX_ATTEMPTS, now=0.0, delay=0.5)


def test_a_scheduled_runs_next_slot_is_measured_on_the_monotonic_clock() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert next_slot_at(now + timedelta(seconds=90), now, monotonic_now=1000.0) == 1090.0
