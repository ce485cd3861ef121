"""`brewctl runs` output for people: bars per run, a sparkline per job, colour only when asked."""

from __future__ import annotations

from datetime import UTC

from brewd.cli.answers import RunJson
from brewd.cli.runs_view import RED, duration_s, job_runs, overview


def run(rid: int, seconds: float | None, status: str = "succeeded", minute: int = 0) -> RunJson:
    start = f"2026-11-29T10:{minute:02d}:00+00:00"
    end = None if seconds is None else f"2026-11-29T10:{minute:02d}:{seconds:06.3f}+00:00"
    return {
        "id": rid,
        "job": "expirePokes",
        "trigger": "schedule",
        "slot": start,
        "started_at": start,
        "finished_at": end,
        "status": status,
        "affected_records": 0,
        "message": None,
        "error": None,
    }


def test_duration_is_none_for_running_missed_and_skipped() -> None:
    assert duration_s(run(1, 2.5)) == 2.5
    assert duration_s(run(1, None, "running")) is None
    assert duration_s(run(1, 0.0, "missed")) is None


def test_job_runs_draws_a_bar_scaled_to_the_longest() -> None:
    text = job_runs([run(3, 4.0), run(2, 2.0), run(1, None, "missed")], UTC, colour=False)
    lines = text.splitlines()
    assert lines[0].split() == ["RUN", "STARTED", "TRIGGER", "STATUS", "DURATION"]
    assert lines[1].split()[-2:] == ["4s", "█" * 30]
    assert lines[2].split()[-2:] == ["2s", "█" * 15]
    assert lines[3].rstrip().endswith("missed     -")
    assert "bars: 4s = 30 cells" in text
    assert "\x1b[" not in text


def test_failed_runs_are_red_only_with_colour() -> None:
    records = [run(2, 1.0, "failed"), run(1, 1.0)]
    assert RED + "█" * 30 in job_runs(records, UTC, colour=True)
    assert "\x1b[" not in job_runs(records, UTC, colour=False)


def test_overview_has_one_sparkline_per_job_oldest_first() -> None:
    newest_first = [run(3, 1.0, minute=10), run(2, 8.0, minute=5), run(1, None, "missed")]
    text = overview({"expirePokes": newest_first, "expireUsers": []}, colour=False)
    header, pokes, users = text.splitlines()[:3]
    assert header.split()[:6] == ["JOB", "RUNS", "FAILED", "LAST", "MEDIAN", "MAX"]
    assert pokes.split() == ["expirePokes", "3", "0", "1s", "4s", "8s", "█▂"]
    assert pokes.endswith("   █▂")  # the gap (missed) first, then 8 s, then 1 s (1/8 of it)
    assert users.split() == ["expireUsers", "0", "0", "-", "-", "-"]


def test_overview_marks_failed_runs_red_with_colour() -> None:
    text = overview({"expirePokes": [run(2, 1.0, "failed"), run(1, 1.0)]}, colour=True)
    assert f"█{RED}█" in text
