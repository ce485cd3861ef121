"""The original scheduler's JSON shapes (its src/index.ts and SchedulerAgent.getStatus), built
from brewd's own status and health, so load-balancer checks and dashboards keep working."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from brewd.control.port import Health, SchedulerStatus


def scheduler_status(status: SchedulerStatus) -> dict[str, Any]:
    """`{isRunning, jobCount, jobs}`: the original listed the jobs it had scheduled, and none
    when ENABLE_SCHEDULER=false; brewd's jobs disabled by configuration are not scheduled
    either. A paused job still has its slots (recorded missed), so it is listed."""
    scheduling = status.running and status.enabled
    jobs = [job.name for job in status.jobs if job.enabled] if scheduling else []
    return {"isRunning": scheduling, "jobCount": len(jobs), "jobs": jobs}


def health(
    brewd_health: Health, status: SchedulerStatus | None, now: datetime
) -> tuple[int, dict[str, Any]]:
    """The original's GET /health: 200 healthy while the database answers, else 503 unhealthy
    with the error; Redis was never part of it (brewd's "degraded" is on the socket)."""
    timestamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    database = brewd_health.database
    if not database.up or status is None:
        error = database.error or "database unreachable"
        return 503, {"status": "unhealthy", "timestamp": timestamp, "error": error}
    return 200, {
        "status": "healthy",
        "timestamp": timestamp,
        "database": "connected",
        "scheduler": scheduler_status(status),
    }
