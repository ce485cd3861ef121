"""The control port: what the control server needs from the scheduler, and the answers it
gets, as dataclasses (a Protocol and plain data, no I/O here). control/wire.py turns the
answers into JSON; their field order is the order of the JSON keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from brewd.runs.records import RunRecord
from brewd.runs.runner import TriggeredRun

HealthStatus = Literal["healthy", "degraded", "unhealthy"]


@dataclass(frozen=True)
class Dependency:
    """A dependency's state: up, how fast it answered, and why not while down."""

    up: bool
    latency_ms: float | None
    error: str | None
    # since when it is down; not in the JSON while up
    down_since: datetime | None = field(default=None, metadata={"omit_if_none": True})


@dataclass(frozen=True)
class JobStatus:
    name: str
    schedule: str  # the cron expression
    enabled: bool
    paused: bool
    running: bool
    next_run: datetime | None  # None while the job or the scheduler is disabled
    last_run: RunRecord | None


@dataclass(frozen=True)
class SchedulerStatus:
    running: bool  # the scheduling loop is alive
    enabled: bool
    node: str  # "host:pid"
    timezone: str
    jobs: list[JobStatus]
    database: Dependency


@dataclass(frozen=True)
class SchedulerHealth:
    running: bool
    enabled: bool
    synced: bool
    overdue_jobs: list[str]
    loop_age_s: float


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    database: Dependency
    redis: Dependency
    scheduler: SchedulerHealth
    version: str
    uptime_s: float


@dataclass(frozen=True)
class NodeSeen:
    """A node that recorded runs lately (the status page's node list)."""

    node: str
    last_seen: datetime | None
    runs: int
    failures: int
    running: int
    is_self: bool = field(metadata={"wire_name": "self"})


@dataclass(frozen=True)
class Recent:
    """For the status page: each job's newest records and the nodes seen lately."""

    runs: dict[str, list[RunRecord]]
    nodes: list[NodeSeen]


class ControlPort(Protocol):
    """Implemented by control/service.py over the scheduler; every method is blocking (it may
    hit the database)."""

    node: str  # "host:pid"

    def job_names(self) -> list[str]: ...

    def status(self) -> SchedulerStatus: ...

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        """Start a manual run; raises UnknownJob or JobAlreadyRunning."""
        ...

    def runs(self, job: str, limit: int) -> list[RunRecord]:
        """Run records of the job, newest first; raises UnknownJob."""
        ...

    def recent(self, per_job: int) -> Recent: ...

    def pause(self, job: str, *, by: str) -> JobStatus:
        """Pause the job cluster-wide; raises UnknownJob."""
        ...

    def resume(self, job: str, *, by: str) -> JobStatus:
        """Resume the job cluster-wide; raises UnknownJob."""
        ...

    def health(self) -> Health: ...
