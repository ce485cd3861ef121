"""Reading job history: last slots and runs, successes, failures, nodes, pause state. Read
only: records are written by brewd/runs/records.py, claims by brewd/runs/claims.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from brewd.adapters.pg import Database
from brewd.runs.records import RunRecord, runs_sql
from brewd.runs.sql import load


class History:
    """Queries over job_runs and job_state shared by the scheduler, status and housekeeping."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    def last_slots(self, until: datetime) -> dict[str, datetime]:
        """The newest slot up to `until` each job has any record of (run, skipped or missed),
        on any node."""
        with self.db.connection() as conn:
            rows = conn.execute(load("history_last_slots"), {"until": until}).fetchall()
        return {row["job"]: row["slot"] for row in rows}

    def last_runs(self) -> dict[str, RunRecord]:
        """Each job's newest run that actually ran (not missed or skipped)."""
        with self.db.connection() as conn:
            rows = conn.execute(runs_sql("history_last_runs")).fetchall()
        return {row["job"]: RunRecord.from_row(row) for row in rows}

    def last_successes(self) -> dict[str, datetime]:
        """Each job's newest successful finish, on any node."""
        with self.db.connection() as conn:
            rows = conn.execute(load("history_last_successes")).fetchall()
        return {row["job"]: row["at"] for row in rows if row["at"] is not None}

    def failures_last_hour(self) -> int:
        with self.db.connection() as conn:
            row = conn.execute(load("history_failures_last_hour")).fetchone()
        return int(row["n"]) if row else 0

    def running_jobs(self) -> set[str]:
        with self.db.connection() as conn:
            rows = conn.execute(load("history_running_jobs")).fetchall()
        return {row["job"] for row in rows}

    def recent_runs(self, job: str, limit: int) -> list[RunRecord]:
        with self.db.connection() as conn:
            rows = conn.execute(runs_sql("history_recent_runs"), (job, limit)).fetchall()
        return [RunRecord.from_row(row) for row in rows]

    def recent_runs_by_job(self, per_job: int) -> dict[str, list[RunRecord]]:
        """Each job's newest `per_job` records (missed and skipped included), newest first."""
        with self.db.connection() as conn:
            rows = conn.execute(runs_sql("history_recent_runs_by_job"), (per_job,)).fetchall()
        runs: dict[str, list[RunRecord]] = {}
        for row in rows:
            runs.setdefault(row["job"], []).append(RunRecord.from_row(row))
        return runs

    def nodes(self, since_hours: int = 24) -> list[dict[str, Any]]:
        """The nodes that recorded runs lately: name, last seen, runs and failures."""
        with self.db.connection() as conn:
            rows = conn.execute(load("history_nodes"), (timedelta(hours=since_hours),)).fetchall()
        return [dict(row) for row in rows]

    def paused(self) -> set[str]:
        with self.db.connection() as conn:
            rows = conn.execute(load("history_paused")).fetchall()
        return {row["job"] for row in rows}
