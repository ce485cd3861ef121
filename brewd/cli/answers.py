"""The control API's answers as brewctl reads them: the JSON shapes (control/wire.py makes
them on the daemon's side), every key optional, because brewctl may talk to an older or newer
daemon and must show what it gets rather than fail. cli/client.py decodes the bytes; these
types say what the tables and sentences (render.py, runs_view.py) may find in them."""

from __future__ import annotations

from typing import TypedDict


class RunJson(TypedDict, total=False):
    id: int
    job: str
    trigger: str  # schedule, catchup, manual
    slot: str | None  # times: ISO 8601 UTC
    node: str
    started_at: str | None
    finished_at: str | None
    status: str  # running, succeeded, failed, skipped, missed
    affected_records: int | None
    message: str | None
    error: str | None
    attempts: int | None
    last_error: str | None


class JobJson(TypedDict, total=False):
    name: str
    schedule: str
    enabled: bool
    paused: bool
    running: bool
    next_run: str | None
    last_run: RunJson | None


class DependencyJson(TypedDict, total=False):
    up: bool
    latency_ms: float | None
    error: str | None
    down_since: str


class StatusJson(TypedDict, total=False):
    running: bool
    enabled: bool
    node: str
    timezone: str
    jobs: list[JobJson]
    database: DependencyJson


class SchedulerHealthJson(TypedDict, total=False):
    running: bool
    enabled: bool
    synced: bool
    overdue_jobs: list[str]
    loop_age_s: float | None


class HealthJson(TypedDict, total=False):
    status: str  # healthy, degraded, unhealthy
    database: DependencyJson
    redis: DependencyJson
    scheduler: SchedulerHealthJson
    version: str
    uptime_s: float
