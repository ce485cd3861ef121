"""The control port: what the control server needs from the scheduler (a Protocol, no I/O here)."""

from __future__ import annotations

from typing import Any, Protocol

from brewd.runs.runner import TriggeredRun


class ControlPort(Protocol):
    """Implemented by the Scheduler; every method is blocking (it may hit the database).

    A run record dict: {"id", "job", "trigger", "slot", "node", "started_at", "finished_at",
    "status", "affected_records", "message", "error", "attempts", "last_error"}, times ISO 8601
    UTC strings or None.
    """

    node: str  # "host:pid"

    def job_names(self) -> list[str]: ...

    def status(self) -> dict[str, Any]:
        """{"running", "node", "timezone", "jobs": [{"name", "schedule", "paused", "running",
        "next_run", "last_run"}]}; last_run is a run record or None."""
        ...

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        """Start a manual run; raises UnknownJob or JobAlreadyRunning."""
        ...

    def runs(self, job: str, limit: int) -> list[dict[str, Any]]:
        """Run records of the job, newest first; raises UnknownJob."""
        ...

    def recent(self, per_job: int) -> dict[str, Any]:
        """{"runs": {job: [run records, newest first, at most per_job]}, "nodes": [{"node",
        "last_seen", "runs", "failures", "running", "self"}]} for the status page."""
        ...

    def pause(self, job: str, *, by: str) -> dict[str, Any]:
        """Pause the job cluster-wide; raises UnknownJob; returns its status entry."""
        ...

    def resume(self, job: str, *, by: str) -> dict[str, Any]:
        """Resume the job cluster-wide; raises UnknownJob; returns its status entry."""
        ...

    def health(self) -> dict[str, Any]:
        """{"status": "healthy"|"degraded"|"unhealthy", "database": {"up", "latency_ms",
        "error"}, "redis": {...}, "scheduler": {"running", "enabled", "overdue_jobs",
        "loop_age_s"}, "version", "uptime_s"}."""
        ...
