"""The demo's summary: one aligned row per job, saying what the run did or why it failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brewd.demo.report import outcome_of, summary_table
from brewd.runs.records import RunRecord


def _record(
    status: str, affected: int | None = None, message: str | None = None, error: str | None = None
) -> RunRecord:
    started = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    return RunRecord(
        id=1,
        job="job",
        trigger="manual",
        slot=None,
        node="host:1",
        started_at=started,
        finished_at=started + timedelta(seconds=1.25),
        status=status,
        affected_records=affected,
        message=message,
        error=error,
    )


def test_a_success_shows_its_count_duration_and_message() -> None:
    row = outcome_of("calculateBadges", _record("succeeded", affected=1234, message="awarded"))
    assert row.seconds == 1.25
    table = summary_table([row]).splitlines()
    assert table[0].split() == ["JOB", "OUTCOME", "RECORDS", "TIME", "WHAT", "IT", "MEANS"]
    assert table[1].split() == ["calculateBadges", "succeeded", "1,234", "1.25s", "awarded"]


def test_a_failure_shows_its_error_and_an_interrupted_job_says_so() -> None:
    failed = outcome_of("expireUsers", _record("failed", error="DatabaseError: gone"))
    skipped = outcome_of("expirePokes", None)
    lines = summary_table([failed, skipped]).splitlines()
    assert lines[1].endswith("failed         -  1.25s  DatabaseError: gone")
    assert lines[2].split()[:4] == ["expirePokes", "not", "run", "-"]
    assert lines[2].endswith("interrupted before it ran")


def test_columns_line_up_whatever_the_lengths() -> None:
    rows = [
        outcome_of("a", _record("succeeded", affected=1, message="x")),
        outcome_of("aggregateAnalytics", _record("succeeded", affected=123456, message="y")),
    ]
    lines = summary_table(rows).splitlines()
    assert len({line.index("succeeded") for line in lines[1:]}) == 1
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned numbers, same widths
