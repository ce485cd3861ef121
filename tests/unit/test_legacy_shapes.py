"""The original scheduler's JSON shapes, built from brewd's status and health (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from brewd.control import legacy
from brewd.control.port import Dependency, Health, JobStatus, SchedulerHealth, SchedulerStatus

NOW = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)


def _job(name: str, *, enabled: bool, paused: bool) -> JobStatus:
    return JobStatus(name, "* * * * *", enabled, paused, False, None, None)


def brewd_status(running: bool = True, enabled: bool = True) -> SchedulerStatus:
    jobs = [
        _job("expireUsers", enabled=True, paused=False),
        _job("expireBadges", enabled=False, paused=False),  # [jobs.x] enabled = false
        _job("expirePokes", enabled=True, paused=True),
    ]
    up = Dependency(up=True, latency_ms=1.0, error=None)
    return SchedulerStatus(running, enabled, "h:1", "UTC", jobs, up)


def brewd_health(database_up: bool = True, redis_up: bool = True) -> Health:
    return Health(
        status="healthy",
        database=Dependency(database_up, None, None if database_up else "refused"),
        redis=Dependency(redis_up, None, None),
        scheduler=SchedulerHealth(True, True, True, [], 0.1),
        version="0",
        uptime_s=1.0,
    )


def test_status_lists_the_scheduled_jobs_paused_included_disabled_not() -> None:
    assert legacy.scheduler_status(brewd_status()) == {
        "isRunning": True,
        "jobCount": 2,
        "jobs": ["expireUsers", "expirePokes"],
    }


def test_scheduler_off_or_stalled_is_not_running_with_no_jobs() -> None:
    off = {"isRunning": False, "jobCount": 0, "jobs": []}
    assert legacy.scheduler_status(brewd_status(enabled=False)) == off
    assert legacy.scheduler_status(brewd_status(running=False)) == off


def test_health_200_with_the_database_whatever_redis_says() -> None:
    code, body = legacy.health(brewd_health(redis_up=False), brewd_status(), NOW)
    assert code == 200
    assert body == {
        "status": "healthy",
        "timestamp": "2026-03-01T12:00:05.123Z",
        "database": "connected",
        "scheduler": {"isRunning": True, "jobCount": 2, "jobs": ["expireUsers", "expirePokes"]},
    }


def test_health_503_without_the_database() -> None:
    code, body = legacy.health(brewd_health(database_up=False), None, NOW)
    assert (code, body) == (
        503,
        {"status": "unhealthy", "timestamp": "2026-03-01T12:00:05.123Z", "error": "refused"},
    )
