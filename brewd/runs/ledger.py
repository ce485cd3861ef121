"""The run ledger in PostgreSQL: claims, fences, outcomes, pause state and pruning of job_runs.

Exactly-once rests on two things. UNIQUE (job, slot) lets one node, and only one, insert the
run of a slot. A session-level advisory lock per job, held on the run's claim connection for the
whole run (brewd/runs/claims.py: apart from the connections its attempts work on), says "this job is
running somewhere": it cannot overlap, and when the node dies the lock goes with its connection,
so the next node that takes the lock knows any row still 'running' is abandoned.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from psycopg import sql

from brewd.adapters.pg import Connection, Database, wrap_errors
from brewd.core.errors import FenceLost

if TYPE_CHECKING:
    from brewd.jobs.base import JobResult

# First key of every brewd advisory lock, so ours never collide with other applications'.
LOCK_NAMESPACE = 0x62726577  # "brew"
# A stalled node's run is reaped this long after its timeout: long enough for the node's own
# deadline (cancel, then terminate) to act first, short enough that the job is not blocked long.
REAP_MARGIN_S = 60.0

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


def lock_key(job: str) -> int:
    """The second advisory-lock key of a job: stable across nodes, versions and Python runs."""
    return zlib.crc32(job.encode()) & 0x7FFFFFFF


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


class Ledger:
    """job_runs and job_state, for one node."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    # -- locks and claims, on the run's own connection ------------------------------------
    def try_lock(self, conn: Connection, job: str) -> bool:
        with wrap_errors():
            row = conn.execute(
                "SELECT pg_try_advisory_lock(%s, %s) AS ok", (LOCK_NAMESPACE, lock_key(job))
            ).fetchone()
        return bool(row and row["ok"])

    def unlock(self, conn: Connection, job: str) -> None:
        with wrap_errors():
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, lock_key(job)))

    def claim(
        self, conn: Connection, job: str, slot: datetime | None, trigger: str
    ) -> RunRecord | None:
        """Insert the 'running' row of (job, slot); None when another node already has the slot
        or the job is paused (a scheduled slot is then recorded missed). The caller holds the
        job's lock, so any other 'running' row of the job is abandoned."""
        with wrap_errors(), conn.transaction():
            if trigger != "manual" and self._paused(conn, job):
                conn.execute(
                    "INSERT INTO job_runs (job, slot, trigger, node, status, message, finished_at)"
                    " VALUES (%s, %s, %s, %s, 'missed', 'missed: paused', now())"
                    " ON CONFLICT (job, slot) DO NOTHING",
                    (job, slot, trigger, self.node),
                )
                return None
            conn.execute(
                "UPDATE job_runs SET status = 'failed', finished_at = now(),"
                " error = 'abandoned: its node stopped (lock released while running)'"
                " WHERE job = %s AND status = 'running'",
                (job,),
            )
            row = conn.execute(
                sql.SQL(
                    "INSERT INTO job_runs (job, slot, trigger, node, started_at, status)"
                    " VALUES (%s, %s, %s, %s, now(), 'running')"
                    # A slot recorded 'skipped' by a node that found the lock taken may have
                    # lost a race with this very claim (it saw our lock before our row): we
                    # hold the lock now, so nothing else runs the job, and the slot is ours.
                    " ON CONFLICT (job, slot) DO UPDATE SET trigger = EXCLUDED.trigger,"
                    " node = EXCLUDED.node, started_at = now(), status = 'running',"
                    " message = NULL, finished_at = NULL WHERE job_runs.status = 'skipped'"
                    " RETURNING {}"
                ).format(RUN_COLUMNS),
                (job, slot, trigger, self.node),
            ).fetchone()
        return RunRecord.from_row(row) if row else None

    @staticmethod
    def _paused(conn: Connection, job: str) -> bool:
        # Read at claim time, in the claim's transaction, so a pause on any node holds at once.
        row = conn.execute("SELECT paused FROM job_state WHERE job = %s", (job,)).fetchone()
        return bool(row and row["paused"])

    def fence(self, conn: Connection, run_id: int) -> None:
        """Called inside each batch's transaction just before commit. FOR SHARE holds the row
        until the commit, so no other node can mark the run abandoned in between."""
        row = conn.execute(
            "SELECT 1 FROM job_runs WHERE id = %s AND node = %s AND status = 'running' FOR SHARE",
            (run_id, self.node),
        ).fetchone()
        if row is None:
            raise FenceLost(f"run {run_id} is no longer held by {self.node}; batch rolled back")

    def still_ours(self, conn: Connection, run_id: int) -> bool:
        with wrap_errors():
            row = conn.execute(
                "SELECT 1 FROM job_runs WHERE id = %s AND node = %s AND status = 'running'",
                (run_id, self.node),
            ).fetchone()
        return row is not None

    def finish(self, conn: Connection, run_id: int, outcome: Outcome) -> RunRecord | None:
        """Record the outcome; None when the run was already closed (e.g. marked abandoned)."""
        with wrap_errors():
            row = conn.execute(
                sql.SQL(
                    "UPDATE job_runs SET status = %s, finished_at = now(), affected_records = %s,"
                    " message = %s, error = %s, attempts = %s, last_error = %s"
                    " WHERE id = %s AND status = 'running' RETURNING {}"
                ).format(RUN_COLUMNS),
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

    # -- records that need no lock ---------------------------------------------------------
    def record_slots(self, job: str, slots: list[datetime], status: str, message: str) -> int:
        """Record slots that did not run ('missed' or 'skipped'); a slot already recorded by
        another node keeps its record. Returns how many rows were inserted."""
        if not slots:
            return 0
        with self.db.connection() as conn, conn.transaction():
            cursor = conn.execute(
                "INSERT INTO job_runs (job, slot, trigger, node, status, message, finished_at)"
                " SELECT %s, s, 'schedule', %s, %s, %s, now() FROM unnest(%s::timestamptz[]) s"
                " ON CONFLICT (job, slot) DO NOTHING",
                (job, self.node, status, message, slots),
            )
            return cursor.rowcount

    def get(self, run_id: int) -> RunRecord | None:
        with self.db.connection() as conn:
            query = sql.SQL("SELECT {} FROM job_runs WHERE id = %s").format(RUN_COLUMNS)
            row = conn.execute(query, (run_id,)).fetchone()
        return RunRecord.from_row(row) if row else None

    def finish_elsewhere(self, run_id: int, outcome: Outcome) -> RunRecord | None:
        """finish() on a fresh pooled connection, when the run's own connection is gone."""
        with self.db.connection() as conn:
            return self.finish(conn, run_id, outcome)
