"""The original scheduler's JSON shapes, built from brewd's status and health (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from brewd.control import legacy

NOW = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)


def brewd_status(running: bool = True, enabled: bool = True) -> dict[str, Any]:
    jobs = [
        {"name": "expireUsers", "enabled": True, "paused": False},
        {"name": "expireBadges", "enabled": False, "paused": False},  # [jobs.x] enabled = false
        {"name": "expirePokes", "enabled": True, "paused": True},
    ]
    return {"running": running, "enabled": enabled, "node": "h:1", "jobs": jobs}


def brewd_health(database_up: bool = True, redis_up: bool = True) -> dict[str, Any]:
    return {
        "status": "healthy",
        "database": {"up": database_up, "error": None if database_up else "refused"},
        "redis": {"up": redis_up, "error": None},
    }


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
