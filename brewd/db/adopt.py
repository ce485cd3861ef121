"""`brewd db init` on a database that already has tables: adopt it in place, step by step.

Each step of brewd/db/adopt_plan.py runs on its own (a transaction for catalogue changes, none
for concurrent index builds), so that no lock is held longer than its statement. Catalogue
changes wait at most LOCK_TIMEOUT for their lock and are retried: queued behind a long API
transaction, an ALTER would otherwise make every later reader of the table queue behind it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import errors as pg_errors
from psycopg import sql

from brewd.adapters.pg import Connection
from brewd.core.errors import DataError, TransientDatabaseError, first_line
from brewd.db.adopt_plan import DEACTIVATE_DUPLICATES, DUPLICATE_BADGES, Step, plan
from brewd.db.legacy import Found, inspect
from brewd.db.migrate import Migration

LOCK_TIMEOUT = "2s"
ATTEMPTS = 5
BADGE_INDEX = "badges_one_active_per_type_idx"

Say = Callable[[str], None]


@dataclass
class Adoption:
    found: Found
    steps: list[Step]
    estimates: dict[str, int]  # table -> estimated rows (pg_class.reltuples)
    deactivated: list[dict[str, Any]] = field(default_factory=list)


def prepare(conn: Connection, migrations: list[Migration], legacy_timezone: str | None) -> Adoption:
    """Inspect the database and plan its adoption (raises CannotAdopt when it cannot be)."""
    found = inspect(conn, legacy_timezone)
    duplicates = len(conn.execute(DUPLICATE_BADGES).fetchall()) if _needs_dedupe(found) else 0
    estimates = {
        row["relname"]: max(0, int(row["n"]))
        for row in conn.execute(
            "SELECT relname, reltuples::bigint AS n FROM pg_class"
            " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        )
    }
    return Adoption(found, plan(found, migrations, duplicates), estimates)


def _needs_dedupe(found: Found) -> bool:
    return not found.indexes.get(BADGE_INDEX, False)


def describe(adoption: Adoption, say: Say) -> None:
    """The dry run: every step with its SQL, its lock and the rows it would change."""
    total = len(adoption.steps)
    if not total:
        say("adoption: nothing to change")
    for number, step in enumerate(adoption.steps, 1):
        say(f"[{number}/{total}] {step.what}")
        say(f"    lock: {step.lock} on {step.table}")
        say(f"    rows: {_rows_text(adoption, step)}")
        say(f"    sql: {' '.join(step.sql.split())}")


def _rows_text(adoption: Adoption, step: Step) -> str:
    if step.dedupe:
        return f"{step.changes} changed (is_active = false)"
    reads = adoption.estimates.get(step.table, 0)
    if step.concurrent or "VALIDATE" in step.sql:
        return f"none changed (reads ~{reads} rows)"
    return "none changed (metadata only)"


def execute(conn: Connection, adoption: Adoption, say: Say) -> None:
    """Run every step in order; report what each changed."""
    total = len(adoption.steps)
    for number, step in enumerate(adoption.steps, 1):
        started = time.monotonic()
        rows = _run(conn, step, adoption)
        took = time.monotonic() - started
        say(f"[{number}/{total}] {step.what}: done in {took:.2f} s")
        for row in rows:
            say(f"    deactivated badge {row['id']} (user {row['user_id']}, {row['type']})")


def _run(conn: Connection, step: Step, adoption: Adoption) -> list[dict[str, Any]]:
    if step.concurrent and BADGE_INDEX in step.sql and "CREATE" in step.sql:
        return _build_badge_index(conn, step, adoption)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _once(conn, step, adoption)
        except pg_errors.LockNotAvailable as exc:
            if attempt == ATTEMPTS:
                raise TransientDatabaseError(
                    f"{step.what}: the lock on {step.table} was not granted within"
                    f" {LOCK_TIMEOUT}, {ATTEMPTS} times (a long transaction holds it, see"
                    " pg_stat_activity); run db init again, it resumes where it stopped"
                ) from exc
            time.sleep(0.5 * attempt)  # let the API's transaction finish, then try again
        except pg_errors.IntegrityError as exc:
            raise DataError(f"cannot adopt: {step.what}: {first_line(exc)}") from exc
    return []


def _once(conn: Connection, step: Step, adoption: Adoption) -> list[dict[str, Any]]:
    if step.concurrent:
        # Index builds block no reader or writer; they may wait for old transactions to end.
        conn.execute("SET lock_timeout = 0")
        conn.execute(sql.SQL(step.sql))  # packaged SQL, not input
        return []
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor = conn.execute(sql.SQL(step.sql))
        rows = cursor.fetchall() if step.dedupe else []
    adoption.deactivated.extend(rows)
    return rows


def _build_badge_index(conn: Connection, step: Step, adoption: Adoption) -> list[dict[str, Any]]:
    """The one-active-badge index; an API server may write a new duplicate meanwhile, which
    fails the build and leaves an INVALID index: drop it, deactivate again, rebuild."""
    dedupe = Step("deactivate duplicates", DEACTIVATE_DUPLICATES, "", "badges", dedupe=True)
    deactivated: list[dict[str, Any]] = []
    for attempt in range(1, ATTEMPTS + 1):
        try:
            _once(conn, step, adoption)
            return deactivated
        except pg_errors.UniqueViolation as exc:
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {BADGE_INDEX}")
            if attempt == ATTEMPTS:
                raise DataError(f"cannot adopt: {first_line(exc)}") from exc
            deactivated.extend(_once(conn, dedupe, adoption))
    return deactivated
