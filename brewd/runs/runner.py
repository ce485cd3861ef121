"""Dispatching runs: the job thread pool, the jobs running on this node, claims, and recording
outcomes. The scheduling loop only submits; it never waits on a job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from datetime import datetime
from typing import Any, NamedTuple

from loguru import logger

from brewd.adapters.cache import Redis
from brewd.adapters.claude import Writer
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.core.clock import Clock
from brewd.core.config import Config
from brewd.core.errors import BrewdError, DatabaseError, JobAlreadyRunning, UnknownJob
from brewd.jobs.base import Job
from brewd.runs.claims import Claim, Claims, SlotTaken
from brewd.runs.execution import Execution, RunHooks, Services
from brewd.runs.joining import join_slot, joins
from brewd.runs.records import Outcome, Records, RunRecord


class TriggeredRun(NamedTuple):
    """A manual run accepted by the runner."""

    run_id: int
    future: Future[RunRecord]  # the run's record when it ends


class Runner:
    """Owns the job thread pool and knows which jobs run on this node."""

    def __init__(
        self,
        *,
        db: Database,
        cache: Redis,
        claims: Claims,
        records: Records,
        metrics: Metrics,
        jobs: Mapping[str, Job],
        clock: Clock,
        config: Config,
        claude: Writer | None = None,
    ) -> None:
        self.db, self.cache, self.metrics = db, cache, metrics
        self.claims, self.records = claims, records
        self.services = Services(
            db=db, cache=cache, claims=claims, metrics=metrics, clock=clock, claude=claude
        )
        self.jobs, self.clock, self.claude = jobs, clock, claude
        self._config = config
        self._pool = ThreadPoolExecutor(config.scheduler.workers, thread_name_prefix="brewd-job")
        self._lock = threading.Lock()
        self._reserved: dict[str, object] = {}  # job -> token of the run holding it on this node
        self._executions: dict[str, Execution] = {}
        self._futures: dict[Future[Any], tuple[str, float]] = {}  # -> (job, submitted at)
        self._pending: list[tuple[int, Outcome]] = []  # outcomes not yet written (database down)
        self._closing = False
        # Called on the job's thread while a run waits out a retry's backoff (its previous
        # attempt's connection is gone, the next one not yet taken): tests run the abandoned-run
        # sweep here, deterministically inside that window.
        self.on_retry_wait: Callable[[RunRecord], None] | None = None

    # -- state ------------------------------------------------------------------------------
    def config(self) -> Config:
        """The configuration new runs start with."""
        return self._config

    def reconfigure(self, config: Config) -> None:
        """A reload: runs started from now on use `config` (scheduler.workers excepted)."""
        self._config = config

    def closing(self) -> bool:
        return self._closing

    def running(self) -> set[str]:
        with self._lock:
            return set(self._reserved)

    def stalled(self, older_than: float) -> list[str]:
        """Jobs submitted more than `older_than` seconds ago that have not started: the pool is
        exhausted, so the scheduler is not really firing (the watchdog must know)."""
        now = time.monotonic()
        with self._lock:
            items = list(self._futures.items())
        return [
            job
            for f, (job, at) in items
            if not f.running() and not f.done() and now - at > older_than
        ]

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted run has finished; False if some are still going."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                futures = list(self._futures)
            if not futures:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait_futures(futures, timeout=remaining)

    # -- entry points -----------------------------------------------------------------------
    def submit_slot(self, job: str, slot: datetime, trigger: str, next_slot_at: float) -> None:
        """Run a scheduled slot on the pool; everything touching the database happens there.
        `next_slot_at` (monotonic) is when the job's next slot is due: the run ends before it."""
        if not self._closing:
            self._submit(job, self._run_slot, job, slot, trigger, next_slot_at)

    def trigger(self, job: str, requested_by: str) -> TriggeredRun:
        """Claim a manual run now, so the caller learns at once that it is refused or its run
        id, then execute it on the pool. Raises UnknownJob or JobAlreadyRunning."""
        if job not in self.jobs:
            raise UnknownJob(job, sorted(self.jobs))
        if self._closing:
            raise BrewdError("the daemon is shutting down")
        token = self._reserve(job)
        if token is None:
            raise JobAlreadyRunning(f"{job} is already running on {self.claims.node}")
        try:
            claim, record = self._claim(job, None, "manual")
        except BaseException:
            self._release(job, token)
            raise
        logger.bind(job=job, run_id=record.id, event="job_triggered").info(
            "{} triggered by {}", job, requested_by
        )
        # No next slot: a manual run's window is its own timeout.
        future = self._submit(job, self._run_claimed, claim, record, token, None)
        return TriggeredRun(record.id, future)

    def _submit(self, job: str, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future = self._pool.submit(fn, *args)
        with self._lock:
            self._futures[future] = (job, time.monotonic())
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.pop(future, None)

    # -- reservations and claims ---------------------------------------------------------------
    def _reserve(self, job: str) -> object | None:
        with self._lock:
            if job in self._reserved:
                return None
            token = self._reserved[job] = object()
            return token

    def _release(self, job: str, token: object) -> None:
        with self._lock:
            if self._reserved.get(job) is token:
                del self._reserved[job]

    def _claim(self, job: str, slot: datetime | None, trigger: str) -> tuple[Claim, RunRecord]:
        """Claim the run (brewd/runs/claims.py). Raises JobAlreadyRunning or SlotTaken."""
        # Outcomes kept while the database was down go first: otherwise this claim would close
        # their rows as 'abandoned' and the real error (e.g. the lost connection) would be lost.
        self.flush_pending()
        return self.claims.take(job, slot, trigger, self.config().database.connect_timeout)

    def _run_slot(self, job: str, slot: datetime, trigger: str, next_slot_at: float) -> None:
        token = self._reserve(job)
        if token is None:
            self._record_skip(job, slot, f"overlap: still running on {self.claims.node}")
            return
        try:
            claim, record = self._claim(job, slot, trigger)
        except JobAlreadyRunning:
            self._record_skip(job, slot, "overlap: running on another node")
            if joins(self.jobs[job]):  # its work is shared: help the node that claimed the slot
                join_slot(self.services, job, self.jobs[job], self.config(), self.closing)
            self._release(job, token)
            return
        except SlotTaken:
            self._release(job, token)
            return
        except DatabaseError as exc:
            self._release(job, token)
            logger.bind(job=job, event="claim_failed").warning(
                "cannot claim {} at {}: {}", job, slot, exc
            )
            self.metrics.missed(job, "database_unavailable")
            return
        except Exception as exc:
            # Anything else (an OSError out of the pool's back-off was seen): the reservation
            # must still go, or every later slot of the job is skipped as an overlap with a
            # run that does not exist.
            self._release(job, token)
            logger.bind(job=job, event="claim_failed").opt(exception=exc).error(
                "cannot claim {} at {}: {}", job, slot, exc
            )
            self.metrics.missed(job, "claim_failed")
            return
        self._run_claimed(claim, record, token, next_slot_at)

    def _record_skip(self, job: str, slot: datetime, reason: str) -> None:
        try:
            if self.records.record_slots(job, [slot], "skipped", reason):
                self.metrics.run_finished(job, "skipped", 0.0, None)
                logger.bind(job=job, event="slot_skipped").info(
                    "{} {} skipped: {}", job, slot, reason
                )
        except DatabaseError as exc:
            logger.bind(job=job, event="record_failed").warning("cannot record a skip: {}", exc)

    # -- executing and recording -------------------------------------------------------------
    def _run_claimed(
        self, claim: Claim, record: RunRecord, token: object, next_slot_at: float | None
    ) -> RunRecord:
        config = self.config()  # read once: a reload does not change a run under way
        execution = Execution(
            self.services,
            self.jobs[record.job],
            config,
            claim,
            record,
            timeout=config.jobs[record.job].timeout,
            next_slot_at=next_slot_at,
            hooks=RunHooks(abandoned=self.abandon, retry_wait=self.on_retry_wait),
        )
        with self._lock:
            self._executions[record.job] = execution
        started = time.monotonic()
        try:
            outcome = execution.run()
        finally:
            execution.close()
            with self._lock:
                self._executions.pop(record.job, None)
        try:
            final = self._record(claim, record, outcome, time.monotonic() - started)
        finally:
            claim.release()
            self._release(record.job, token)
        return final

    def _record(
        self, claim: Claim, record: RunRecord, outcome: Outcome, duration: float
    ) -> RunRecord:
        final: RunRecord | None = None
        try:
            final = self.records.finish(claim.conn, record.id, outcome)
        except DatabaseError:
            final = self._write_elsewhere(record.id, outcome)
        self.metrics.run_finished(record.job, outcome.status, duration, outcome.affected)
        log = logger.bind(job=record.job, run_id=record.id, event="job_finished")
        text = outcome.message if outcome.status == "succeeded" else outcome.error
        (log.info if outcome.status == "succeeded" else log.warning)(
            "{} {} in {:.3f}s: {} record(s); {}",
            record.job,
            outcome.status,
            duration,
            outcome.affected or 0,
            text,
        )
        return final or _local_record(record, outcome)

    def abandon(self, execution: Execution, outcome: Outcome) -> None:
        """The run's thread is stuck past its deadline: close its record from here and free
        the job on this node (its backends were terminated, so its lock is gone too)."""
        self._write_elsewhere(execution.record.id, outcome)
        with self._lock:
            self._reserved.pop(execution.record.job, None)

    def _write_elsewhere(self, run_id: int, outcome: Outcome) -> RunRecord | None:
        try:
            return self.records.finish_elsewhere(run_id, outcome)
        except DatabaseError:
            with self._lock:
                self._pending.append((run_id, outcome))
            return None

    def flush_pending(self) -> None:
        """Write outcomes that could not be recorded while the database was down."""
        with self._lock:
            pending, self._pending = self._pending, []
        for run_id, outcome in pending:
            self._write_elsewhere(run_id, outcome)

    # -- shutdown ----------------------------------------------------------------------------
    def shutdown(self, timeout: float) -> list[str]:
        """Take no new runs, wait up to `timeout` for running ones, then cancel the rest and
        give them a moment to record it. Returns the jobs that had to be cancelled."""
        self._closing = True
        with self._lock:
            futures = list(self._futures)
        _, not_done = wait_futures(futures, timeout=timeout)
        with self._lock:
            executions = list(self._executions.values())
        for execution in executions:
            execution.cancel("shutdown")
        wait_futures(not_done, timeout=min(10.0, max(timeout, 1.0)))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.flush_pending()
        return [e.record.job for e in executions]


def _local_record(record: RunRecord, outcome: Outcome) -> RunRecord:
    """What we know of a run whose record the database could not return."""
    return replace(
        record,
        status=outcome.status,
        affected_records=outcome.affected,
        message=outcome.message,
        error=outcome.error,
        attempts=outcome.attempts,
        last_error=outcome.last_error,
    )
