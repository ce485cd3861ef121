"""An in-test ControlPort: a stand-in for the Scheduler, to test the HTTP layer on its own.

It holds no database logic (no fake of PostgreSQL): jobs are names, runs are dicts, and each
manual run waits on a gate the test opens, so a run can be held "running" for as long as needed.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
from datetime import UTC, datetime
from typing import Any

from brewd.core.errors import DatabaseUnavailable, JobAlreadyRunning, UnknownJob
from brewd.runs.runner import TriggeredRun

JOBS = ("expirePokes", "calculateBadges")


def _iso(when: datetime) -> str:
    return when.isoformat()


def _opened() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


class StubPort:
    node = "stub:1"

    def __init__(self) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {job: [] for job in JOBS}
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

    def _entry(self, job: str) -> dict[str, Any]:
        last = self.records[job][0] if self.records[job] else None
        return {
            "name": job,
            "schedule": "*/5 * * * *",
            "paused": job in self.paused,
            "running": job in self.running,
            "next_run": None if job in self.paused else "2030-01-01T00:05:00+00:00",
            "last_run": last,
        }

    def status(self) -> dict[str, Any]:
        with self._lock:
            self.status_calls += 1
        self.status_gate.wait(30)
        if self.crash_with is not None:
            raise self.crash_with
        if not self.database_up:
            raise DatabaseUnavailable("database unavailable: connection refused")
        jobs = [self._entry(job) for job in JOBS]
        return {"running": True, "node": self.node, "timezone": "UTC", "jobs": jobs}

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        self._known(job)
        with self._lock:
            if job in self.running:
                raise JobAlreadyRunning(f"{job} is already running")
            self.running.add(job)
            run_id = next(self._ids)
        self.calls.append(("trigger", requested_by))
        gate = self.gates.get(job) or _opened()
        future: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
        record = self._record(run_id, job)
        threading.Thread(target=self._finish, args=(job, record, gate, future)).start()
        return TriggeredRun(run_id, future)

    def _record(self, run_id: int, job: str) -> dict[str, Any]:
        now = _iso(datetime.now(UTC))
        return {
            "id": run_id,
            "job": job,
            "trigger": "manual",
            "slot": None,
            "node": self.node,
            "started_at": now,
            "finished_at": None,
            "status": "running",
            "affected_records": None,
            "message": None,
            "error": None,
            "attempts": None,
            "last_error": None,
        }

    def _finish(self, job: str, record: dict[str, Any], gate: threading.Event, future: Any) -> None:
        gate.wait(60)
        failed = self.outcome[job] == "failed"
        record.update(
            finished_at=_iso(datetime.now(UTC)),
            status=self.outcome[job],
            affected_records=None if failed else 3,
            message=None if failed else "expired 3 pokes",
            error="DatabaseError: relation does not exist" if failed else None,
            attempts=1,
        )
        with self._lock:
            self.records[job].insert(0, record)
            self.running.discard(job)
        future.set_result(dict(record))

    def hold(self, job: str) -> None:
        """The next runs of `job` stay running until release(job)."""
        self.gates[job] = threading.Event()

    def release(self, job: str) -> None:
        self.gates.pop(job).set()

    def runs(self, job: str, limit: int) -> list[dict[str, Any]]:
        self._known(job)
        return self.records[job][:limit]

    def recent(self, per_job: int) -> dict[str, Any]:
        runs = {job: records[:per_job] for job, records in self.records.items()}
        return {"runs": runs, "nodes": [{"node": self.node, "self": True}]}

    def pause(self, job: str, *, by: str) -> dict[str, Any]:
        self._known(job)
        self.paused[job] = by
        return self._entry(job)

    def resume(self, job: str, *, by: str) -> dict[str, Any]:
        self._known(job)
        self.paused.pop(job, None)
        return self._entry(job)

    def health(self) -> dict[str, Any]:
        dep: dict[str, Any] = {"up": self.database_up, "latency_ms": None, "error": None}
        if self.database_up:
            dep["latency_ms"] = 0.4
        else:
            dep["error"] = "connection refused"
        return {
            "status": "healthy" if self.database_up else "unhealthy",
            "database": dep,
            "redis": {"up": True, "latency_ms": 0.2, "error": None},
            "scheduler": {"running": True, "enabled": True, "overdue_jobs": [], "loop_age_s": 0.1},
            "version": "0.1.0",
            "uptime_s": 12.5,
        }
