"""One claimed run: its connection, its deadline, its attempts, and the outcome they lead to."""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING

from loguru import logger

from brewd.adapters.pg import Connection, wrap_errors
from brewd.errors import BrewdError, DatabaseError, JobCancelled, TransientDatabaseError
from brewd.jobs.base import JobContext, JobResult
from brewd.ledger import Outcome, RunRecord

if TYPE_CHECKING:
    from brewd.runner import Runner

# Transient database errors are retried at most this many times, with exponential backoff
# and jitter, and never past the job's next slot or its deadline.
MAX_ATTEMPTS = 5
# A run that ignores its cancellation this long after the deadline gets its backend
# terminated: that releases its lock and voids its fence, so the job is free again even if
# its thread is stuck outside the database.
TERMINATE_GRACE_S = 10.0


_SIGNAL_SQL = {
    "pg_cancel_backend": "SELECT pg_cancel_backend(%s)",
    "pg_terminate_backend": "SELECT pg_terminate_backend(%s)",
}


def backoff(attempt: int) -> float:
    """Seconds to wait before retry `attempt` (0-based): 0.5 s doubling, capped, jittered."""
    return min(30.0, 0.5 * 2.0**attempt) * random.uniform(0.5, 1.5)  # noqa: S311  (not crypto)


class Execution:
    """Runs a claimed job with its deadline enforced: statement and lock timeouts on its own
    connection, cancellation of its backend at the deadline, and a cooperative stop flag."""

    def __init__(
        self, runner: Runner, conn: Connection, record: RunRecord, retry_until: float
    ) -> None:
        self.runner, self.conn, self.record = runner, conn, record
        self.timeout = runner.config().jobs[record.job].timeout
        self.deadline = time.monotonic() + self.timeout
        self.retry_until = min(retry_until, self.deadline)
        self.stop = threading.Event()
        self.reason: str | None = None  # "timeout" or "shutdown" once cancelled
        self.finished = False
        self.backend_pid = 0
        self.log = logger.bind(job=record.job, run_id=record.id)
        self._timers: list[threading.Timer] = []

    def run(self) -> Outcome:
        self._after(self.timeout, self.cancel, "timeout")
        attempt = 0
        while True:
            try:
                return Outcome.succeeded(self._once())
            except TransientDatabaseError as exc:
                delay = backoff(attempt)
                attempt += 1
                if attempt >= MAX_ATTEMPTS or time.monotonic() + delay > self.retry_until:
                    return self._classify(exc)
                self.log.bind(event="job_retry").warning(
                    "{} attempt {} failed ({}); retrying in {:.1f}s",
                    self.record.job,
                    attempt,
                    exc,
                    delay,
                )
                if self.stop.wait(delay) or (self.conn.broken and not self._reconnect()):
                    return self._classify(exc)
            except Exception as exc:
                return self._classify(exc)

    def _once(self) -> JobResult:
        self._set_timeouts()
        ctx = JobContext(
            conn=self.conn,
            cache=self.runner.cache,
            config=self.runner.config(),
            now=self.runner.clock.now(),
            log=self.log,
            run_id=self.record.id,
            should_stop=self.stop.is_set,
            fence=self._fence,
            claude=self.runner.claude,
            db=self.runner.db,
            metrics=self.runner.metrics,
            node=self.runner.ledger.node,
        )
        with wrap_errors():  # a job's raw psycopg error is translated here, so it can be retried
            return self.runner.jobs[self.record.job].run(ctx)

    def _fence(self, conn: Connection) -> None:
        self.runner.ledger.fence(conn, self.record.id)

    def _set_timeouts(self) -> None:
        remaining_ms = max(int((self.deadline - time.monotonic()) * 1000), 1)
        row = self.conn.execute(
            "SELECT pg_backend_pid() AS pid, set_config('statement_timeout', %s, false),"
            " set_config('lock_timeout', %s, false)",
            (f"{remaining_ms}ms", f"{min(remaining_ms, 30_000)}ms"),
        ).fetchone()
        self.backend_pid = row["pid"] if row else 0

    def _reconnect(self) -> bool:
        """After a lost connection: a new one, the job's lock again, and the run still ours."""
        ledger, db = self.runner.ledger, self.runner.db
        try:
            conn = db.getconn(timeout=5)
        except DatabaseError:
            return False
        try:
            ok = ledger.try_lock(conn, self.record.job) and ledger.still_ours(conn, self.record.id)
        except DatabaseError:
            ok = False
        if not ok:
            self.runner.unlock_and_return(conn, self.record.job)
            return False
        db.putconn(self.conn)  # the pool discards a broken connection
        self.conn = conn
        return True

    def _classify(self, exc: Exception) -> Outcome:
        if self.reason == "timeout" or time.monotonic() >= self.deadline:
            return Outcome.failed(f"timeout: exceeded {self.timeout:g}s")
        if self.reason == "shutdown" or isinstance(exc, JobCancelled):
            return Outcome.failed("cancelled: the daemon is shutting down")
        if isinstance(exc, BrewdError):
            return Outcome.failed(str(exc))
        self.log.bind(event="job_crashed").opt(exception=exc).error(
            "{} raised {}", self.record.job, type(exc).__name__
        )
        return Outcome.failed(f"{type(exc).__name__}: {exc}")

    # -- cancellation -------------------------------------------------------------------------
    def cancel(self, reason: str) -> None:
        """Stop the run: flag it, cancel its statement, and terminate its backend later if it
        does not return."""
        if self.finished or self.reason:
            return
        self.reason = reason
        self.stop.set()
        self._signal_backend("pg_cancel_backend")
        self._after(TERMINATE_GRACE_S, self._terminate)

    def _terminate(self) -> None:
        if self.finished:
            return
        self._signal_backend("pg_terminate_backend")
        self.runner.abandon(
            self, Outcome.failed(f"timeout: exceeded {self.timeout:g}s and did not stop")
        )

    def _signal_backend(self, function: str) -> None:
        if not self.backend_pid:
            return
        try:
            with self.runner.db.connection(timeout=5) as conn:
                conn.execute(_SIGNAL_SQL[function], (self.backend_pid,))
        except DatabaseError as exc:
            self.log.bind(event="cancel_failed").warning("{} failed: {}", function, exc)

    def _after(self, seconds: float, fn: object, *args: object) -> None:
        timer = threading.Timer(seconds, fn, args)  # type: ignore[arg-type]
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def close(self) -> None:
        self.finished = True
        for timer in self._timers:
            timer.cancel()
