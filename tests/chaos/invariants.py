"""The invariants on the run ledger and on expiry, checked from the database at the end."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import psycopg

from tests.chaos.cluster import JOBS
from tests.chaos.faults import Fault
from tests.chaos.verdict import Verdict, deadline, explaining

Conn = psycopg.Connection[dict[str, Any]]
EARLY = timedelta(seconds=1)  # clock resolution between the database and a node


def minute_slots(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return [
        first + timedelta(minutes=i) for i in range(int((end - first).total_seconds() // 60) + 1)
    ]


def slots(conn: Conn, faults: list[Fault], start: datetime, end: datetime) -> Verdict:
    """Every slot of every job in [start, end]: exactly one record; succeeded, or missed /
    failed / skipped with a reason and a fault that explains it."""
    verdict = Verdict("every slot ran once or has a recorded, explained reason")
    rows = conn.execute(
        "SELECT job, slot, status, message, error FROM job_runs WHERE slot BETWEEN %s AND %s",
        (start, end),
    ).fetchall()
    by_key = {(r["job"], r["slot"]): r for r in rows}
    for job in JOBS:
        for slot in minute_slots(start, end):
            verdict.checked += 1
            row = by_key.get((job, slot))
            if row is None:
                verdict.fail(f"{job} {slot:%H:%M}: no record at all")
                continue
            if row["status"] == "succeeded":
                continue
            reason = row["message"] or row["error"]
            fault = explaining(faults, slot, end)
            where = f"{job} {slot:%H:%M} {row['status']} ({reason})"
            if row["status"] == "running":
                verdict.fail(f"{where}: still running after the faults were healed")
            elif not reason:
                verdict.fail(f"{where}: no reason recorded")
            elif row["status"] == "skipped" and not reason.startswith("overlap"):
                verdict.fail(f"{where}: skipped for a reason other than overlap")
            elif fault is None:
                verdict.fail(f"{where}: no fault near it explains it")
    return verdict


def no_overlap(conn: Conn) -> Verdict:
    """No two runs of one job overlapped in time (runs that ran: not missed/skipped)."""
    verdict = Verdict("no two runs of a job overlapped")
    rows = conn.execute(
        "SELECT id, job, node, started_at, finished_at, status FROM job_runs"
        " WHERE status NOT IN ('missed', 'skipped') ORDER BY job, started_at"
    ).fetchall()
    for before, after in itertools.pairwise(rows):
        if before["job"] != after["job"]:
            continue
        verdict.checked += 1
        if before["finished_at"] is None or after["started_at"] < before["finished_at"]:
            verdict.fail(
                f"{before['job']}: run {before['id']} ({before['node']}, {before['status']},"
                f" {before['started_at']:%H:%M:%S}-{_hms(before['finished_at'])}) overlaps run"
                f" {after['id']} ({after['node']}, from {after['started_at']:%H:%M:%S})"
            )
    return verdict


def _hms(at: datetime | None) -> str:
    return "still running" if at is None else f"{at:%H:%M:%S}"


# What fell due, and when it was done: (what, expires_at, done_at, still live).
EXPIRY_QUERIES = {
    "user": "SELECT id, expires_at, updated_at AS done_at, is_active AS live FROM users"
    " WHERE expires_at BETWEEN %(start)s AND %(cut)s",
    "poke": "SELECT id, expires_at, expired_at AS done_at, expired_at IS NULL AS live FROM pokes"
    " WHERE expires_at BETWEEN %(start)s AND %(cut)s",
    "badge": "SELECT id, expires_at, updated_at AS done_at, is_active AS live FROM badges"
    " WHERE expires_at BETWEEN %(start)s AND %(cut)s",
}
JOB_OF = {"user": "expireUsers", "poke": "expirePokes", "badge": "expireBadges"}


def expiry(conn: Conn, faults: list[Fault], start: datetime, cut: datetime) -> Verdict:
    """Every user, poke and badge due in the window was expired, never before it was due,
    within a period after it fell due (or after the faults meanwhile were healed), and once."""
    verdict = Verdict("every user, poke and badge due was expired once, on time, not early")
    for what, query in EXPIRY_QUERIES.items():
        for row in conn.execute(query, {"start": start, "cut": cut}).fetchall():
            verdict.checked += 1
            due, done = row["expires_at"], row["done_at"]
            label = f"{what} due {due:%H:%M:%S}"
            if row["live"]:
                verdict.fail(f"{label}: never expired")
            elif done < due - EARLY:
                verdict.fail(f"{label}: expired {(due - done).total_seconds():.0f}s early")
            elif done > deadline(faults, due, cut):
                verdict.fail(f"{label}: expired {(done - due).total_seconds():.0f}s late")
        counted = conn.execute(
            "SELECT coalesce(sum(affected_records), 0) AS n FROM job_runs WHERE job = %s",
            (JOB_OF[what],),
        ).fetchone()
        assert counted is not None
        table = {"user": "users", "poke": "pokes", "badge": "badges"}[what]
        live = "expired_at IS NOT NULL" if what == "poke" else "NOT is_active"
        total = conn.execute(f"SELECT count(*) AS n FROM {table} WHERE {live}").fetchone()
        assert total is not None
        if counted["n"] > total["n"]:
            verdict.fail(f"{what}s: runs report {counted['n']} expired, only {total['n']} are")
    return verdict


def single_active_badge(conn: Conn) -> Verdict:
    verdict = Verdict("no duplicate active badge")
    rows = conn.execute(
        "SELECT user_id, type, count(*) AS n FROM badges WHERE is_active"
        " GROUP BY user_id, type HAVING count(*) > 1"
    ).fetchall()
    verdict.checked = 1
    for row in rows:
        verdict.fail(f"user {row['user_id']} has {row['n']} active {row['type']}")
    return verdict


def sessions_closed(conn: Conn) -> Verdict:
    """Expired users keep no session opened before their expiry (a session the writer opened
    after brewd expired its user is the API servers' business)."""
    verdict = Verdict("expired users' sessions closed")
    rows = conn.execute(
        "SELECT u.id, s.started_at, u.updated_at FROM users u JOIN user_sessions s"
        " ON s.user_id = u.id WHERE NOT u.is_active AND s.ended_at IS NULL"
        " AND s.started_at < u.updated_at - %s",
        (EARLY,),
    ).fetchall()
    verdict.checked = 1
    for row in rows:
        verdict.fail(f"user {row['id']}: session from {row['started_at']:%H:%M:%S} still open")
    return verdict
