"""What `brewd demo` prints: the world it generated and a table of what every job did (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from brewd.demo.worldgen import WorldStats
from brewd.runs.records import RunRecord

HEADERS = ("JOB", "OUTCOME", "RECORDS", "TIME", "WHAT IT MEANS")


@dataclass(frozen=True)
class JobOutcome:
    job: str
    status: str  # succeeded, failed, ... as in job_runs; "not run" when interrupted
    affected: int | None
    seconds: float | None
    meaning: str


def outcome_of(job: str, record: RunRecord | None) -> JobOutcome:
    """A run's record as one row of the summary."""
    if record is None:
        return JobOutcome(job, "not run", None, None, "interrupted before it ran")
    seconds = None
    if record.started_at and record.finished_at:
        seconds = (record.finished_at - record.started_at).total_seconds()
    meaning = record.message if record.status == "succeeded" else record.error
    return JobOutcome(job, record.status, record.affected_records, seconds, meaning or "")


def _cells(outcome: JobOutcome) -> tuple[str, ...]:
    affected = "-" if outcome.affected is None else f"{outcome.affected:,}"
    seconds = "-" if outcome.seconds is None else f"{outcome.seconds:.2f}s"
    return (outcome.job, outcome.status, affected, seconds, outcome.meaning)


def summary_table(outcomes: Iterable[JobOutcome]) -> str:
    """Aligned columns like `systemctl list-timers`; numbers right-aligned, meaning last."""
    rows = [HEADERS, *(_cells(o) for o in outcomes)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS) - 1)]
    lines = []
    for row in rows:
        job, status, affected, seconds, meaning = row
        lines.append(
            f"{job:<{widths[0]}}  {status:<{widths[1]}}  {affected:>{widths[2]}}  "
            f"{seconds:>{widths[3]}}  {meaning}".rstrip()
        )
    return "\n".join(lines)


def world_summary(stats: WorldStats) -> str:
    """Two lines: what exists, and the work waiting for the jobs."""
    return (
        f"{stats.cafes:,} cafés, {stats.users:,} users, {stats.sessions:,} sessions "
        f"({stats.open_sessions:,} open), {stats.pokes:,} pokes, {stats.messages:,} messages, "
        f"{stats.badges:,} badges, in {stats.seconds:.1f}s\n"
        f"waiting for the jobs: {stats.users_due:,} users past expiry, {stats.badges_due:,} "
        f"badges past expiry, {stats.pokes_due:,} pokes past expiry, {stats.pokes_purgeable:,} "
        "expired pokes old enough to purge"
    )
