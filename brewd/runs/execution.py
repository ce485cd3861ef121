"""One claimed run: its attempts, each on a work connection with its timeouts bounded by the
run's window, cancellation at the end of the window, and the outcome they lead to. The retry
policy itself (which errors, how often, how long) is brewd/runs/retry.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from loguru import logger

from brewd.adapters.cache import Redis
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Connection, Database, wrap_errors
from brewd.core.clock import Clock
from brewd.core.config import Config
from brewd.core.errors import BrewdError, DatabaseError, JobCancelled
from brewd.jobs.base import Job, JobContext, JobResult
from brewd.runs.claims import Claim, Claims
from brewd.runs.records import Outcome, RunRecord
from brewd.runs.retry import AttemptLimits, RunWindow, backoff, is_transient

if TYPE_CHECKING:
    from loguru import Logger

# A run that ignores its cancellation this long after the end of its window gets its backends
# terminated (work and claim): that releases its lock and voids its fence, so the job is free
# again even if its thread is stuck outside the database.
TERMINATE_GRACE_S = 10.0


_SIGNAL_SQL = {
    "pg_cancel_backend": "SELECT pg_cancel_backend(%s)",
    "pg_terminate_backend": "SELECT pg_terminate_backend(%s)",
}


@dataclass(frozen=True, kw_only=True)
class Services:
    """What every run of this node works with; the runner builds it once."""

    db: Database
    cache: Redis
    claims: Claims
    metrics: Metrics
    clock: Clock
    claude: Any = None  # brewd.adapters.claude client, or None without an API key

    def context(
        self,
        conn: Connection,
        config: Config,
        log: Logger,
        *,
        not_after: datetime | None = None,
        **run: Any,
    ) -> JobContext:
        """A job's context on `conn`, its `now` no later than `not_after`; `run` adds what only a
        claimed run has (id, fence...)."""
        now = self.clock.now()
        return JobContext(
            conn=conn,
            cache=self.cache,
            config=config,
            now=now if not_after is None else min(now, not_after),
            log=log,
            claude=self.claude,
            db=self.db,
            metrics=self.metrics,
            node=self.claims.node,
            **run,
        )


@dataclass(frozen=True, kw_only=True)
class RunHooks:
    """What the runner hears of a run besides its outcome."""

    # The run's thread is stuck past its window: its record is closed from the timer thread.
    abandoned: Callable[[Execution, Outcome], None]
    # Called on the job's thread while a run waits out a retry's backoff (tests).
    retry_wait: Callable[[RunRecord], None] | None = None


class Execution:
    """Runs a claimed job within its window: statement and lock timeouts on each attempt's
    connection, cancellation of its backend when the window ends, a cooperative stop flag."""

    def __init__(
        self,
        services: Services,
        job: Job,
        config: Config,
        claim: Claim,
        record: RunRecord,
        *,
        timeout: float,
        next_slot_at: float | None,
        hooks: RunHooks,
    ) -> None:
        self.services, self.job, self.config = services, job, config
        self.claim, self.record, self.hooks = claim, record, hooks
        self.timeout = timeout
        self.started = time.monotonic()
        self.window = RunWindow.of(self.started, self.timeout, next_slot_at)
        self.conn: Connection | None = None  # the current attempt's work connection
        self.attempts = 0
        self.last_error: str | None = None  # the last transient error an attempt ended with
        self.stop = threading.Event()
        self.reason: str | None = None  # "timeout", "window" or "shutdown" once cancelled
        self.finished = False
        self.backend_pid = 0
        self.log = logger.bind(job=record.job, run_id=record.id)
        self._timers: list[threading.Timer] = []

    def run(self) -> Outcome:
        limit = "window" if self.window.cut_by_next_slot else "timeout"
        self._after(self.window.ends_at - self.started, self.cancel, limit)
        outcome = self._attempt_until_done()
        return replace(outcome, attempts=self.attempts, last_error=self.last_error)

    def _attempt_until_done(self) -> Outcome:
        while True:
            limits = self.window.limits(time.monotonic())
            if limits is None:  # a catch-up fired just before its next slot: no time at all
                return Outcome.failed(self._limit_message())
            self.attempts += 1
            try:
                return Outcome.succeeded(self._once(limits))
            except Exception as exc:
                if not is_transient(exc) or self.reason:
                    return self._classify(exc)
                self.last_error = str(exc)
                delay = backoff(self.attempts)
                if not self.window.may_retry(self.attempts, time.monotonic(), delay):
                    return self._classify(exc)  # no time for another: the real error stands
                self.log.bind(event="job_retry").warning(
                    "{} attempt {} failed ({}); retrying in {:.1f}s",
                    self.record.job,
                    self.attempts,
                    exc,
                    delay,
                )
                if self.hooks.retry_wait:
                    self.hooks.retry_wait(self.record)
                if self.stop.wait(delay) or not self.claim.holds():
                    return self._classify(exc)

    def _once(self, limits: AttemptLimits) -> JobResult:
        conn = self._work_connection()
        database_now = self._set_timeouts(conn, limits)
        ctx = self.services.context(
            conn,
            self.config,
            self.log,
            # Never ahead of the database's clock, the one the API servers stamp expires_at
            # with: a node whose wall clock runs fast (found by the chaos run, a step of
            # +45 s) would otherwise expire users, pokes and badges before their time.
            not_after=database_now,
            run_id=self.record.id,
            should_stop=self.stop.is_set,
            fence=self._fence,
        )
        with wrap_errors():  # a job's raw psycopg error is translated here, so it can be retried
            result = self.job.run(ctx)
        metrics = self.services.metrics
        for source, count in result.by_source.items():
            metrics.proactive_posted(source, count)
        for reason, count in result.fallbacks.items():
            metrics.proactive_fallback(reason, count)
        return result

    def _work_connection(self) -> Connection:
        """The attempt's connection: the previous one unless it was lost."""
        if self.conn is not None and not self.conn.broken:
            return self.conn
        if self.conn is not None:
            self.services.db.putconn(self.conn)  # the pool discards a broken connection
            self.conn = None
        self.conn = self.services.db.getconn(timeout=self.config.database.connect_timeout)
        return self.conn

    def _fence(self, conn: Connection) -> None:
        self.services.claims.fence(conn, self.record.id)

    def _set_timeouts(self, conn: Connection, limits: AttemptLimits) -> datetime:
        """Sets the attempt's timeouts on `conn`; returns the database's clock."""
        # idle_in_transaction_session_timeout too: a node frozen mid-batch (SIGSTOP, a VM pause)
        # must not keep its row locks past the window; the server ends that session itself.
        # The pool's RESET ALL undoes all three when the connection goes back.
        statement = f"{limits.statement_timeout_ms}ms"
        with wrap_errors():  # a connection lost here is an outage to retry, not a crash
            row = conn.execute(
                "SELECT pg_backend_pid() AS pid, clock_timestamp() AS now,"
                " set_config('statement_timeout', %s, false),"
                " set_config('lock_timeout', %s, false),"
                " set_config('idle_in_transaction_session_timeout', %s, false)",
                (statement, f"{limits.lock_timeout_ms}ms", statement),
            ).fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        self.backend_pid = row["pid"]
        database_now: datetime = row["now"]
        return database_now

    def _classify(self, exc: Exception) -> Outcome:
        if self.reason in ("timeout", "window") or time.monotonic() >= self.window.ends_at:
            return Outcome.failed(self._limit_message())
        if self.reason == "shutdown" or isinstance(exc, JobCancelled):
            return Outcome.failed("cancelled: the daemon is shutting down")
        if isinstance(exc, BrewdError):
            return Outcome.failed(str(exc))
        self.log.bind(event="job_crashed").opt(exception=exc).error(
            "{} raised {}", self.record.job, type(exc).__name__
        )
        return Outcome.failed(f"{type(exc).__name__}: {exc}")

    def _limit_message(self) -> str:
        if not self.window.cut_by_next_slot:
            return f"timeout: exceeded {self.timeout:g}s"
        used = time.monotonic() - self.started
        return f"timeout: stopped before the next slot after {used:.1f}s ({self.attempts} attempts)"

    # -- cancellation -------------------------------------------------------------------------
    def cancel(self, reason: str) -> None:
        """Stop the run: flag it, cancel its statement, and terminate its backends later if it
        does not return."""
        if self.finished or self.reason:
            return
        self.reason = reason
        self.stop.set()
        self._signal_backend("pg_cancel_backend", self.backend_pid)
        self._after(TERMINATE_GRACE_S, self._terminate)

    def _terminate(self) -> None:
        if self.finished:
            return
        self._signal_backend("pg_terminate_backend", self.backend_pid)
        self._signal_backend("pg_terminate_backend", self.claim.backend_pid)  # frees the job
        self.hooks.abandoned(self, Outcome.failed(f"{self._limit_message()} and did not stop"))

    def _signal_backend(self, function: str, pid: int) -> None:
        if not pid:
            return
        try:
            with self.services.db.connection(timeout=5) as conn:
                conn.execute(_SIGNAL_SQL[function], (pid,))
        except DatabaseError as exc:
            self.log.bind(event="cancel_failed").warning("{} failed: {}", function, exc)

    def _after(self, seconds: float, fn: object, *args: object) -> None:
        timer = threading.Timer(max(seconds, 0.0), fn, args)  # type: ignore[arg-type]
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def close(self) -> None:
        """The run is over: no more timers, and its work connection goes back to the pool."""
        self.finished = True
        for timer in self._timers:
            timer.cancel()
        if self.conn is not None:
            self.services.db.putconn(self.conn)
            self.conn = None
