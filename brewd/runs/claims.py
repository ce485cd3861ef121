"""Exactly once: who may run a job's slot, and how a node that lost the right stops writing.

Four mechanisms, all here (the statements are brewd/runs/sql/claim_*.sql and abandoned_*.sql):

1. The slot: UNIQUE (job, slot) on job_runs (db/migrations/0001_initial.sql) lets one node, and
   only one, insert the run of a slot (`Claims.take`).
2. The lock: a session-level advisory lock per job, (LOCK_NAMESPACE, lock_key(job)), held on the
   run's claim connection for the whole run, says "this job is running somewhere": runs cannot
   overlap, and when a node dies the lock goes with its connection.
3. The fence: every batch of a job checks, inside its transaction and just before commit, that
   its run row is still 'running' on this node (`Claims.fence`, called by JobContext.batch), so
   a node whose claim was lost commits nothing more.
4. Abandoned runs: a 'running' row whose lock has no holder lost its node; one held far past
   its job's timeout is stalled, and its claim backend is terminated (`Claims.sweep_abandoned`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from brewd.adapters.pg import Connection, Database, wrap_errors
from brewd.core.config import DEFAULT_JOB_TIMEOUT_S
from brewd.core.errors import BrewdError, DatabaseError, FenceLost, JobAlreadyRunning
from brewd.runs.records import RunRecord, runs_sql
from brewd.runs.sql import load

# First key of every brewd advisory lock, so ours never collide with other applications'.
LOCK_NAMESPACE = 0x62726577  # "brew"
# A stalled node's run is reaped this long after its timeout: long enough for the node's own
# deadline (cancel, then terminate) to act first, short enough that the job is not blocked long.
REAP_MARGIN_S = 60.0


def lock_key(job: str) -> int:
    """The second advisory-lock key of a job: stable across nodes, versions and Python runs."""
    return zlib.crc32(job.encode()) & 0x7FFFFFFF


def lock_keys(job: str) -> tuple[int, int]:
    """Both keys of the job's advisory lock, as pg_advisory_lock and pg_locks take them."""
    return LOCK_NAMESPACE, lock_key(job)


class SlotTaken(BrewdError):
    """Another node already ran or recorded this slot."""


class Claim:
    """The claim of run `run_id` of `job`: `conn` holds the job's session advisory lock.

    Why a connection of its own: an attempt's connection may be lost or terminated (that is
    what retries are for), and a lock held there would die with it. Between two attempts the
    abandoned-run sweep of any node would then see no holder and close the live run, and
    another node could claim the job. The claim connection does no work (it only takes the
    lock, inserts the row and records the outcome), so only a real loss of the node or of the
    database ends it; then the lock is free and the run is abandoned, as it should be.
    """

    def __init__(self, claims: Claims, conn: Connection, job: str) -> None:
        self.claims, self.conn, self.job = claims, conn, job
        self.run_id = 0
        self.backend_pid = int(conn.info.backend_pid)

    def holds(self) -> bool:
        """Checked before each retry: the lock's session is alive and the run row still ours.
        A claim connection lost with the database is taken again when the row is still ours."""
        try:
            if not self.conn.broken:
                return self.claims.still_ours(self.conn, self.run_id)
        except DatabaseError:
            pass  # the session died under us: try a new one below
        return self._retake()

    def _retake(self) -> bool:
        try:
            conn = self.claims.db.getconn(timeout=5)
        except DatabaseError:
            return False
        try:
            ok = self.claims.try_lock(conn, self.job) and self.claims.still_ours(conn, self.run_id)
        except DatabaseError:
            ok = False
        if not ok:
            self.claims.release(conn, self.job)
            return False
        self.claims.db.putconn(self.conn)  # the pool discards a broken connection
        self.conn, self.backend_pid = conn, int(conn.info.backend_pid)
        return True

    def release(self) -> None:
        self.claims.release(self.conn, self.job)


class Claims:
    """The lock, the claim and the fence of this node's runs, and the abandoned-run sweep."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    def take(
        self, job: str, slot: datetime | None, trigger: str, connect_timeout: float
    ) -> tuple[Claim, RunRecord]:
        """The job's lock on a connection of its own, and its running row. Raises
        JobAlreadyRunning (another node runs it) or SlotTaken (the slot is recorded, or the
        job is paused and the slot recorded missed)."""
        conn = self.db.getconn(timeout=connect_timeout)
        try:
            if not self.try_lock(conn, job):
                raise JobAlreadyRunning(f"{job} is already running on another node")
            claim = Claim(self, conn, job)
            record = self._insert(conn, job, slot, trigger)
            if record is None:
                raise SlotTaken()
            claim.run_id = record.id
            return claim, record
        except BaseException:
            self.release(conn, job)
            raise

    def try_lock(self, conn: Connection, job: str) -> bool:
        with wrap_errors():
            row = conn.execute(load("claim_try_lock"), lock_keys(job)).fetchone()
        return bool(row and row["ok"])

    def release(self, conn: Connection, job: str) -> None:
        """Unlock the job on `conn` (if its session still lives) and give the connection back."""
        try:
            if not conn.broken:
                with wrap_errors():
                    conn.execute(load("claim_unlock"), lock_keys(job))
        except DatabaseError:
            pass  # a broken connection has lost its locks with its session
        finally:
            self.db.putconn(conn)

    def _insert(
        self, conn: Connection, job: str, slot: datetime | None, trigger: str
    ) -> RunRecord | None:
        """Insert the 'running' row of (job, slot); None when another node already has the slot
        or the job is paused (a scheduled slot is then recorded missed). The caller holds the
        job's lock, so any other 'running' row of the job is abandoned."""
        with wrap_errors(), conn.transaction():
            if trigger != "manual" and self._paused(conn, job):
                conn.execute(load("claim_missed_paused"), (job, slot, trigger, self.node))
                return None
            conn.execute(load("claim_close_stale"), (job,))
            row = conn.execute(runs_sql("claim_insert"), (job, slot, trigger, self.node)).fetchone()
        return RunRecord.from_row(row) if row else None

    @staticmethod
    def _paused(conn: Connection, job: str) -> bool:
        row = conn.execute(load("claim_is_paused"), (job,)).fetchone()
        return bool(row and row["paused"])

    def fence(self, conn: Connection, run_id: int) -> None:
        """Called inside each batch's transaction just before commit (JobContext.batch)."""
        row = conn.execute(load("claim_fence"), (run_id, self.node)).fetchone()
        if row is None:
            raise FenceLost(f"run {run_id} is no longer held by {self.node}; batch rolled back")

    def still_ours(self, conn: Connection, run_id: int) -> bool:
        with wrap_errors():
            row = conn.execute(load("claim_still_ours"), (run_id, self.node)).fetchone()
        return row is not None

    # -- abandoned runs, swept by any node's housekeeping -----------------------------------
    def sweep_abandoned(self, timeouts: Mapping[str, float]) -> int:
        """Close 'running' rows whose node is gone (its lock is free) or stalled far past the
        job's timeout (its claim backend is terminated, which releases the lock and voids its
        fence). The lock lives on the run's claim connection, which outlives each attempt's
        work connection: a live run between two attempts still holds it, so "no holder"
        really means the node is gone. The stalled run's work connection is not terminated
        here: the server ends it by itself, its statement at the end of the window and an
        idle transaction after the attempt's budget (brewd/runs/retry.py), and the fence
        keeps it from committing anything once the run is closed."""
        closed = 0
        with self.db.connection() as conn:
            rows = conn.execute(load("abandoned_candidates")).fetchall()
            for row in rows:
                timeout = timeouts.get(row["job"], DEFAULT_JOB_TIMEOUT_S)
                limit = timedelta(seconds=timeout + REAP_MARGIN_S)
                overdue = (
                    row["started_at"] is not None and row["db_now"] - row["started_at"] > limit
                )
                closed += self._close_if_abandoned(conn, row, overdue)
        return closed

    def _close_if_abandoned(self, conn: Connection, row: dict[str, Any], overdue: bool) -> int:
        holder = conn.execute(load("abandoned_lock_holder"), lock_keys(str(row["job"]))).fetchone()
        if holder is not None and not overdue:
            return 0  # alive and within its time
        if holder is not None:
            conn.execute(load("abandoned_terminate"), (holder["pid"],))
            error = (
                f"abandoned: node {row['node']} ran past its timeout; its backend was terminated"
            )
        else:
            error = f"abandoned: node {row['node']} stopped while running (its lock was released)"
        return conn.execute(load("abandoned_close"), (error, row["id"])).rowcount
