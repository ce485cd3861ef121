"""The retry policy, whole: which errors are retried, how often, after what pause, and within
what window every attempt of a run must end (a scheduled run's next slot, a manual run's
timeout). Pure: no I/O; times are monotonic seconds given by the caller."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from brewd.core.errors import DatabaseUnavailable, TransientDatabaseError

# A run makes at most this many attempts (the first one included).
MAX_ATTEMPTS = 5
# Kept free before the job's next slot: the failed attempt returns, the outcome is written and
# the claim released within it, so the next slot finds the job free (never 'skipped: overlap').
RECORD_MARGIN_S = 2.0
# A retry is not started with less than this left: it could do nothing useful.
MIN_ATTEMPT_S = 1.0
# A late slot (a catch-up, a clock jump) is not started this close to its next slot: it would
# have no time for one attempt, fail, and race its successor for the job (the scheduler records
# it missed instead: brewd/core/catchup.py).
MIN_RUN_WINDOW_S = RECORD_MARGIN_S + MIN_ATTEMPT_S
# A lock wait may use at most this share of the time left (and never more than the cap), so a
# lock timeout always leaves room for the retry it is meant to allow.
LOCK_WAIT_SHARE = 0.5
LOCK_WAIT_CAP_S = 30.0


# The errors a retry may fix. adapters/pg.py only names what happened, once, at the boundary
# (SQLSTATE -> brewd error type); whether that is worth another attempt is decided here:
# - DatabaseUnavailable: the connection was lost or refused; the next attempt takes a new one.
# - TransientDatabaseError: PostgreSQL chose this transaction as the loser of a serialization
#   conflict or a deadlock, or a lock wait hit the attempt's lock_timeout.
# Never retried: a cancelled statement (statement_timeout or pg_cancel_backend: the run's
# window is over or someone stopped it on purpose), any other DatabaseError (the data or the
# schema is at fault), FenceLost (the run is no longer ours), and every other exception.
RETRIED: tuple[type[BaseException], ...] = (DatabaseUnavailable, TransientDatabaseError)


def is_transient(exc: BaseException) -> bool:
    """Is `exc` an error another attempt of the run may not meet (see RETRIED)?"""
    return isinstance(exc, RETRIED)


def backoff(retry: int, jitter: float | None = None) -> float:
    """Seconds to wait before retry number `retry` (1-based): 0.5 s doubling, capped at 30 s,
    times a jitter factor in [0.5, 1.5) so that nodes failing together do not retry together.
    `jitter` in [0, 1) makes it deterministic; None draws one."""
    u = random.random() if jitter is None else jitter  # noqa: S311  (not crypto)
    return min(30.0, 0.5 * 2.0 ** (retry - 1)) * (0.5 + u)


def next_slot_at(next_due: datetime, now: datetime, monotonic_now: float) -> float:
    """A scheduled run's next slot, on the monotonic clock its window is measured with."""
    return monotonic_now + (next_due - now).total_seconds()


@dataclass(frozen=True)
class AttemptLimits:
    """The database timeouts of one attempt, in milliseconds (as set_config takes them)."""

    statement_timeout_ms: int
    lock_timeout_ms: int


@dataclass(frozen=True)
class RunWindow:
    """When a run must be over. `deadline` is its start plus the job's timeout; `ends_at` is the
    earlier of that and its next slot minus RECORD_MARGIN_S (a manual run has no next slot: its
    window is its timeout). Every attempt's timeouts and the cancel timer end at `ends_at`."""

    deadline: float
    ends_at: float

    @classmethod
    def of(cls, started: float, timeout: float, next_slot_at: float | None) -> RunWindow:
        deadline = started + timeout
        if next_slot_at is None:
            return cls(deadline, deadline)
        return cls(deadline, min(deadline, next_slot_at - RECORD_MARGIN_S))

    @property
    def cut_by_next_slot(self) -> bool:
        """The next slot, not the job's timeout, is what ends this run."""
        return self.ends_at < self.deadline

    def limits(self, now: float) -> AttemptLimits | None:
        """Timeouts for an attempt starting at `now`; None when the window is already over."""
        left = self.ends_at - now
        if left <= 0:
            return None
        lock_wait = min(left * LOCK_WAIT_SHARE, LOCK_WAIT_CAP_S)
        return AttemptLimits(max(round(left * 1000), 1), max(round(lock_wait * 1000), 1))

    def may_retry(self, attempts: int, now: float, delay: float) -> bool:
        """After `attempts` attempts, may one more start after waiting `delay` seconds?"""
        return attempts < MAX_ATTEMPTS and now + delay + MIN_ATTEMPT_S <= self.ends_at
