"""brewctl's tables and sentences, from the control API's JSON, at a fixed time and zone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

from brewd.cli.answers import HealthJson, RunJson, StatusJson
from brewd.cli.render import health_text, run_sentence, runs_table, status_table, timespan

NOW = datetime(2026, 3, 29, 0, 58, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def record(**fields: object) -> RunJson:
    base: dict[str, object] = {
        "id": 41,
        "job": "expirePokes",
        "trigger": "schedule",
        "slot": "2026-03-29T00:55:00+00:00",
        "node": "cafe-1:77",
        "started_at": "2026-03-29T00:55:00.200000+00:00",
        "finished_at": "2026-03-29T00:55:01.700000+00:00",
        "status": "succeeded",
        "affected_records": 12,
        "message": "expired 12 pokes",
        "error": None,
        "attempts": 1,
        "last_error": None,
    }
    return cast(RunJson, base | fields)


def test_timespan_reads_like_systemd() -> None:
    assert [timespan(s) for s in (0.25, 5, 252, 3725, 90000, 200000)] == [
        "250ms",
        "5s",
        "4min 12s",
        "1h 2min",
        "1 day 1h",
        "2 days 7h",
    ]


def test_status_table_is_soonest_first_in_local_time_with_paused_last() -> None:
    status: StatusJson = {
        "running": True,
        "node": "cafe-1:77",
        "timezone": "Europe/Paris",
        "jobs": [
            {"name": "calculateBadges", "schedule": "5 0 * * *", "paused": True,
             "running": False, "next_run": None, "last_run": None},
            {"name": "expirePokes", "schedule": "*/5 * * * *", "paused": False,
             "running": False, "next_run": "2026-03-29T01:00:00+00:00", "last_run": record()},
            {"name": "expireUsers", "schedule": "0 * * * *", "paused": False,
             "running": True, "next_run": "2026-03-29T01:00:00+00:00", "last_run": None},
        ],
    }  # fmt: skip
    lines = status_table(status, NOW, PARIS).splitlines()
    assert lines[0].split() == ["NEXT", "LEFT", "LAST", "STATUS", "JOB"]
    # 01:00 UTC on the day the clocks go forward is 03:00 CEST
    assert lines[1].split() == [
        "Sun", "2026-03-29", "03:00:00", "CEST", "2min",
        "Sun", "2026-03-29", "01:55:00", "CET", "succeeded", "expirePokes",
    ]  # fmt: skip
    assert lines[2].split()[-3:] == ["n/a", "running", "expireUsers"]
    assert lines[3].split() == ["paused", "-", "n/a", "-", "calculateBadges"]
    assert "3 jobs listed. Scheduler running on cafe-1:77, time zone Europe/Paris" in lines[-1]


def test_runs_table_shows_duration_and_the_error_of_a_failure() -> None:
    failed = record(id=42, status="failed", affected_records=None, error="timeout: exceeded 600s")
    text = runs_table([failed, record()], UTC)
    header, first, second = text.splitlines()
    assert header.split() == [
        "RUN",
        "STARTED",
        "DURATION",
        "TRIGGER",
        "STATUS",
        "ATTEMPTS",
        "AFFECTED",
        "DETAILS",
    ]
    assert first.split()[0] == "42"
    assert first.split()[5:9] == ["1s", "schedule", "failed", "1"]
    assert first.endswith("timeout: exceeded 600s")
    assert second.endswith("expired 12 pokes")
    assert runs_table([], UTC) == "no runs recorded yet"


def test_runs_table_shows_the_attempts_and_what_a_retry_recovered_from() -> None:
    retried = record(attempts=2, last_error="database unavailable: connection lost")
    gave_up = record(
        status="failed",
        attempts=3,
        message=None,
        error="LockNotAvailable: canceling statement due to lock timeout",
        last_error="LockNotAvailable: canceling statement due to lock timeout",
    )
    skipped = record(status="skipped", attempts=None, message="skipped: overlap")
    _, first, second, third = runs_table([retried, gave_up, skipped], UTC).splitlines()
    assert first.split()[8:10] == ["2", "12"]
    assert first.endswith("expired 12 pokes; retried after: database unavailable: connection lost")
    assert second.split()[8] == "3"
    assert second.endswith("LockNotAvailable: canceling statement due to lock timeout")
    assert "retried after" not in second  # the same error is not said twice
    assert third.split()[8] == "-"


def test_run_sentence_for_success_and_failure() -> None:
    assert run_sentence(record()) == (
        "expirePokes succeeded in 1s, 12 records: expired 12 pokes (run 41)"
    )
    failed = record(status="failed", error="DatabaseError: relation does not exist")
    assert run_sentence(failed) == (
        "expirePokes failed after 1s: DatabaseError: relation does not exist (run 41)"
    )


def test_health_text_names_what_is_down() -> None:
    health: HealthJson = {
        "status": "degraded",
        "database": {"up": True, "latency_ms": 1.25, "error": None},
        "redis": {"up": False, "latency_ms": None, "error": "ConnectionError: refused"},
        "scheduler": {"running": True, "enabled": True, "overdue_jobs": ["expirePokes"],
                      "loop_age_s": 0.4},
        "version": "0.1.0",
        "uptime_s": 3725,
    }  # fmt: skip
    lines = health_text(health).splitlines()
    assert lines[0] == "brewd 0.1.0: degraded (up 1h 2min)"
    assert lines[1].split() == ["database", "up", "1.2", "ms"]
    assert lines[2].split(None, 2) == ["redis", "DOWN", "ConnectionError: refused"]
    assert "overdue: expirePokes" in lines[3]
