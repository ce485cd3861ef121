"""Run records in PostgreSQL: outcomes, slots that did not run, pause state and pruning of
job_runs and job_state. Who may write a run at all (the lock, the claim, the fence) is
brewd/runs/claims.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import sql

from brewd.adapters.pg import Connection, Database, wrap_errors
from brewd.core.results import JobResult
from brewd.runs.sql import load

RUN_FIELDS = (
    "id",
    "job",
    "trigger",
    "slot",
    "node",
    "started_at",
    "finished_at",
    "status",
    "affected_records",
    "message",
    "error",
    "attempts",
    "last_error",
)
RUN_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, RUN_FIELDS))


def runs_sql(name: str) -> sql.Composed:
    """The statement brewd/runs/sql/<name>.sql with its {columns} those of a RunRecord."""
    return sql.SQL(load(name)).format(columns=RUN_COLUMNS)


@dataclass(frozen=True)
class Outcome:
    """How a run ended, as the ledger records it."""

    status: str
    affected: int | None
    message: str | None
    error: str | None
    attempts: int | None = None  # how many attempts the run made (brewd/runs/retry.py)
    last_error: str | None = None  # the last transient error an attempt ended with

    @classmethod
    def succeeded(cls, result: JobResult) -> Outcome:
        return cls("succeeded", result.affected_records, result.message, None)

    @classmethod
    def failed(cls, error: str) -> Outcome:
        return cls("failed", None, None, error)


@dataclass(frozen=True)
class RunRecord:
    id: int
    job: str
    trigger: str
    slot: datetime | None
    node: str
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    affected_records: int | None
    message: str | None
    error: str | None
    attempts: int | None = None
    last_error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        return cls(**{key: row[key] for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Missed:
    """What `Records.record_missed` did: rows inserted (a slot another node recorded or ran
    keeps its record), the slots still ahead of the database's clock, and that clock."""

    inserted: int
    ahead: list[datetime]
    database_now: datetime | None


class Records:
    """Writing job_runs and job_state, for one node."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    def finish(self, conn: Connection, run_id: int, outcome: Outcome) -> RunRecord | None:
        """Record the outcome; None when the run was already closed (e.g. marked abandoned)."""
        with wrap_errors():
            row = conn.execute(
                runs_sql("record_finish"),
                (
                    outcome.status,
                    outcome.affected,
                    outcome.message,
                    outcome.error,
                    outcome.attempts,
                    outcome.last_error,
                    run_id,
                ),
            ).fetchone()
        return RunRecord.from_row(row) if row else None

    def finish_elsewhere(self, run_id: int, outcome: Outcome) -> RunRecord | None:
        """finish() on a fresh pooled connection, when the run's own connection is gone."""
        with self.db.connection() as conn:
            return self.finish(conn, run_id, outcome)

    def record_slots(self, job: str, slots: list[datetime], status: str, message: str) -> int:
        """Record slots that did not run ('skipped'; missed ones go through record_missed,
        which minds the database's clock); a slot already recorded by another node keeps its
        record. Returns how many rows were inserted."""
        if not slots:
            return 0
        with self.db.connection() as conn, conn.transaction():
            cursor = conn.execute(load("record_slots"), (job, self.node, status, message, slots))
            return cursor.rowcount

    def record_missed(
        self, job: str, slots: list[datetime], message: str, settled_after: timedelta
    ) -> Missed:
        """Record as missed the slots the database's clock passed at least `settled_after` ago;
        the others are still to come for every node with a right clock, and are returned."""
        if not slots:
            return Missed(0, [], None)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute("SELECT now() AS now").fetchone()
            assert row is not None  # SELECT without FROM returns one row
            database_now: datetime = row["now"]
            cutoff = database_now - settled_after
            due = [slot for slot in slots if slot <= cutoff]
            ahead = [slot for slot in slots if slot > cutoff]
            inserted = 0
            if due:
                cursor = conn.execute(
                    load("record_slots"), (job, self.node, "missed", message, due)
                )
                inserted = cursor.rowcount
        return Missed(inserted, ahead, database_now)

    def get(self, run_id: int) -> RunRecord | None:
        with self.db.connection() as conn:
            row = conn.execute(runs_sql("record_get"), (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def set_paused(self, job: str, paused: bool, by: str) -> None:
        """Pause or resume `job` on every node (claims read it: brewd/runs/claims.py)."""
        with self.db.connection() as conn:
            conn.execute(load("record_set_paused"), {"job": job, "paused": paused, "by": by})

    def prune(self, keep_runs: int, keep_days: int) -> int:
        """Delete finished runs beyond the newest `keep_runs` per job or older than `keep_days`."""
        with self.db.connection() as conn:
            return conn.execute(load("record_prune"), (keep_runs, keep_days)).rowcount
