"""An in-test ControlPort: a stand-in for the Scheduler, to test the HTTP layer on its own.

It holds no database logic (no fake of PostgreSQL): jobs are names, runs are records, and each
manual run waits on a gate the test opens, so a run can be held "running" for as long as needed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import threading
from datetime import UTC, datetime

from brewd.control.port import (
    Dependency,
    Health,
    JobStatus,
    NodeSeen,
    Recent,
    SchedulerHealth,
    SchedulerStatus,
)
from brewd.core.errors import DatabaseUnavailable, JobAlreadyRunning, UnknownJob
from brewd.runs.records import RunRecord
from brewd.runs.runner import TriggeredRun

JOBS = ("expirePokes", "calculateBadges")
NEXT_RUN = datetime(2030, 1, 1, 0, 5, tzinfo=UTC)


def _opened() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


class StubPort:
    node = "stub:1"

    def __init__(self) -> None:
        self.records: dict[str, list[RunRecord]] = {job: [] for job in JOBS}
        self.paused: dict[str, str] = {}
        self.outcome = {job: "succeeded" for job in JOBS}
        self.gates: dict[str, threading.Event] = {}
        self.running: set[str] = set()
        self.calls: list[tuple[str, str | None]] = []
        self.status_calls = 0
        self.database_up = True
        self.crash_with: Exception | None = None  # makes status() raise, for last-resort tests
        self.status_gate = threading.Event()
        self.status_gate.set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def job_names(self) -> list[str]:
        return list(JOBS)

    def _known(self, job: str) -> None:
        if job not in JOBS:
            raise UnknownJob(job, list(JOBS))

    def _entry(self, job: str) -> JobStatus:
        last = self.records[job][0] if self.records[job] else None
        return JobStatus(
            name=job,
            schedule="*/5 * * * *",
            enabled=True,
            paused=job in self.paused,
            running=job in self.running,
            next_run=None if job in self.paused else NEXT_RUN,
            last_run=last,
        )

    def status(self) -> SchedulerStatus:
        with self._lock:
            self.status_calls += 1
        self.status_gate.wait(30)
        if self.crash_with is not None:
            raise self.crash_with
        if not self.database_up:
            raise DatabaseUnavailable("database unavailable: connection refused")
        jobs = [self._entry(job) for job in JOBS]
        database = Dependency(up=True, latency_ms=0.4, error=None)
        return SchedulerStatus(True, True, self.node, "UTC", jobs, database)

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        self._known(job)
        with self._lock:
            if job in self.running:
                raise JobAlreadyRunning(f"{job} is already running")
            self.running.add(job)
            run_id = next(self._ids)
        self.calls.append(("trigger", requested_by))
        gate = self.gates.get(job) or _opened()
        future: concurrent.futures.Future[RunRecord] = concurrent.futures.Future()
        record = self._record(run_id, job)
        threading.Thread(target=self._finish, args=(job, record, gate, future)).start()
        return TriggeredRun(run_id, future)

    def _record(self, run_id: int, job: str) -> RunRecord:
        return RunRecord(
            id=run_id,
            job=job,
            trigger="manual",
            slot=None,
            node=self.node,
            started_at=datetime.now(UTC),
            finished_at=None,
            status="running",
            affected_records=None,
            message=None,
            error=None,
        )

    def _finish(
        self,
        job: str,
        record: RunRecord,
        gate: threading.Event,
        future: concurrent.futures.Future[RunRecord],
    ) -> None:
        gate.wait(60)
        failed = self.outcome[job] == "failed"
        record = dataclasses.replace(
            record,
            finished_at=datetime.now(UTC),
            status=self.outcome[job],
            affected_records=None if failed else 3,
            message=None if failed else "expired 3 pokes",
            error="DatabaseError: relation does not exist" if failed else None,
            attempts=1,
        )
        with self._lock:
            self.records[job].insert(0, record)
            self.running.discard(job)
        future.set_result(record)

    def hold(self, job: str) -> None:
        """The next runs of `job` stay running until release(job)."""
        self.gates[job] = threading.Event()

    def release(self, job: str) -> None:
        self.gates.pop(job).set()

    def runs(self, job: str, limit: int) -> list[RunRecord]:
        self._known(job)
        return self.records[job][:limit]

    def recent(self, per_job: int) -> Recent:
        runs = {job: records[:per_job] for job, records in self.records.items()}
        return Recent(runs, [NodeSeen(self.node, None, 0, 0, 0, is_self=True)])

    def pause(self, job: str, *, by: str) -> JobStatus:
        self._known(job)
        self.paused[job] = by
        return self._entry(job)

    def resume(self, job: str, *, by: str) -> JobStatus:
        self._known(job)
        self.paused.pop(job, None)
        return self._entry(job)

    def health(self) -> Health:
        if self.database_up:
            database = Dependency(up=True, latency_ms=0.4, error=None)
        else:
            database = Dependency(up=False, latency_ms=None, error="connection refused")
        return Health(
            status="healthy" if self.database_up else "unhealthy",
            database=database,
            redis=Dependency(up=True, latency_ms=0.2, error=None),
            scheduler=SchedulerHealth(
                running=True, enabled=True, synced=True, overdue_jobs=[], loop_age_s=0.1
            ),
            version="0.1.0",
            uptime_s=12.5,
        )
