"""Reading and keeping job history: last slots and runs, pause state, abandoned runs, pruning."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import sql

from brewd.adapters.pg import Connection, Database
from brewd.runs.ledger import LOCK_NAMESPACE, REAP_MARGIN_S, RUN_COLUMNS, RunRecord, lock_key


class History:
    """Queries over job_runs and job_state shared by the scheduler, status and housekeeping."""

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    def last_slots(self) -> dict[str, datetime]:
        """The newest slot each job has any record of (run, skipped or missed), on any node."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT job, max(slot) AS slot FROM job_runs WHERE slot IS NOT NULL GROUP BY job"
            ).fetchall()
        return {row["job"]: row["slot"] for row in rows}

    def last_runs(self) -> dict[str, RunRecord]:
        """Each job's newest run that actually ran (not missed or skipped)."""
        with self.db.connection() as conn:
            query = sql.SQL(
                "SELECT DISTINCT ON (job) {} FROM job_runs"
                " WHERE status IN ('running', 'succeeded', 'failed') ORDER BY job, id DESC"
            ).format(RUN_COLUMNS)
            rows = conn.execute(query).fetchall()
        return {row["job"]: RunRecord.from_row(row) for row in rows}

    def last_successes(self) -> dict[str, datetime]:
        """Each job's newest successful finish, on any node."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT job, max(finished_at) AS at FROM job_runs"
                " WHERE status = 'succeeded' GROUP BY job"
            ).fetchall()
        return {row["job"]: row["at"] for row in rows if row["at"] is not None}

    def failures_last_hour(self) -> int:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM job_runs"
                " WHERE status = 'failed' AND finished_at > now() - interval '1 hour'"
            ).fetchone()
        return int(row["n"]) if row else 0

    def running_jobs(self) -> set[str]:
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT job FROM job_runs WHERE status = 'running'"
            ).fetchall()
        return {row["job"] for row in rows}

    def recent_runs(self, job: str, limit: int) -> list[RunRecord]:
        with self.db.connection() as conn:
            query = sql.SQL(
                "SELECT {} FROM job_runs WHERE job = %s ORDER BY id DESC LIMIT %s"
            ).format(RUN_COLUMNS)
            rows = conn.execute(query, (job, limit)).fetchall()
        return [RunRecord.from_row(row) for row in rows]

    def recent_runs_by_job(self, per_job: int) -> dict[str, list[RunRecord]]:
        """Each job's newest `per_job` records (missed and skipped included), newest first."""
        with self.db.connection() as conn:
            query = sql.SQL(
                "SELECT {} FROM (SELECT *, row_number() OVER (PARTITION BY job ORDER BY id DESC)"
                " AS n FROM job_runs) r WHERE n <= %s ORDER BY job, id DESC"
            ).format(RUN_COLUMNS)
            rows = conn.execute(query, (per_job,)).fetchall()
        runs: dict[str, list[RunRecord]] = {}
        for row in rows:
            runs.setdefault(row["job"], []).append(RunRecord.from_row(row))
        return runs

    def nodes(self, since_hours: int = 24) -> list[dict[str, Any]]:
        """The nodes that recorded runs lately: name, last seen, runs and failures."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT node, max(coalesce(finished_at, started_at)) AS last_seen,"
                " count(*) FILTER (WHERE status IN ('succeeded', 'failed')) AS runs,"
                " count(*) FILTER (WHERE status = 'failed') AS failures,"
                " count(*) FILTER (WHERE status = 'running') AS running"
                " FROM job_runs WHERE coalesce(finished_at, started_at) > now() - %s"
                " GROUP BY node ORDER BY last_seen DESC",
                (timedelta(hours=since_hours),),
            ).fetchall()
        return [dict(row) for row in rows]

    def paused(self) -> set[str]:
        with self.db.connection() as conn:
            rows = conn.execute("SELECT job FROM job_state WHERE paused").fetchall()
        return {row["job"] for row in rows}

    def set_paused(self, job: str, paused: bool, by: str) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO job_state (job, paused, paused_at, paused_by, updated_at)"
                " VALUES (%(job)s, %(paused)s, CASE WHEN %(paused)s THEN now() END, %(by)s, now())"
                " ON CONFLICT (job) DO UPDATE SET paused = EXCLUDED.paused,"
                " paused_at = EXCLUDED.paused_at, paused_by = EXCLUDED.paused_by,"
                " updated_at = now()",
                {"job": job, "paused": paused, "by": by},
            )

    def sweep_abandoned(self, timeouts: dict[str, float]) -> int:
        """Close 'running' rows whose node is gone (its lock is free) or stalled far past the
        job's timeout (its claim backend is terminated, which releases the lock and voids its
        fence). The lock lives on the run's claim connection (brewd/runs/claims.py), which outlives
        each attempt's work connection: a live run between two attempts still holds it, so
        "no holder" really means the node is gone. The stalled run's work connection is not
        terminated here: the server ends it by itself, its statement at the end of the window
        and an idle transaction after the attempt's budget (brewd/runs/retry.py), and the fence
        keeps it from committing anything once the run is closed."""
        closed = 0
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT id, job, node, started_at, now() AS db_now FROM job_runs"
                " WHERE status = 'running'"
            ).fetchall()
            for row in rows:
                limit = timedelta(seconds=timeouts.get(row["job"], 600.0) + REAP_MARGIN_S)
                overdue = (
                    row["started_at"] is not None and row["db_now"] - row["started_at"] > limit
                )
                closed += self._close_if_abandoned(conn, row, overdue)
        return closed

    def _close_if_abandoned(self, conn: Connection, row: dict[str, Any], overdue: bool) -> int:
        key = (LOCK_NAMESPACE, lock_key(str(row["job"])))
        holder = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND objid = %s AND objsubid = 2 AND granted"
            # advisory locks are per database, but pg_locks shows the whole cluster
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            key,
        ).fetchone()
        if holder is not None and not overdue:
            return 0  # alive and within its time
        if holder is not None:
            conn.execute("SELECT pg_terminate_backend(%s)", (holder["pid"],))
            error = (
                f"abandoned: node {row['node']} ran past its timeout; its backend was terminated"
            )
        else:
            error = f"abandoned: node {row['node']} stopped while running (its lock was released)"
        cursor = conn.execute(
            "UPDATE job_runs SET status = 'failed', finished_at = now(), error = %s"
            " WHERE id = %s AND status = 'running'",
            (error, row["id"]),
        )
        return cursor.rowcount

    def prune(self, keep_runs: int, keep_days: int) -> int:
        """Delete finished runs beyond the newest `keep_runs` per job or older than `keep_days`."""
        with self.db.connection() as conn:
            cursor = conn.execute(
                "DELETE FROM job_runs WHERE id IN (SELECT id FROM ("
                " SELECT id, created_at, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n"
                " FROM job_runs WHERE status <> 'running') r"
                " WHERE n > %s OR created_at < now() - make_interval(days => %s))",
                (keep_runs, keep_days),
            )
            return cursor.rowcount
