"""`brewd db init [--dry-run]`: create the schema, or adopt a database that already has tables.

An empty database gets the packaged migrations in one transaction (nothing to lock out). A
database holding the original scheduler's tables is first adopted step by step
(brewd/db/adopt.py), after which the migrations find every object in place: they only create
brewd's own tables and record the version, under a short lock_timeout, retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from brewd.adapters.pg import Connection, wrap_errors
from brewd.core.errors import TransientDatabaseError
from brewd.db import adopt, migrate
from brewd.db.legacy import has_tables

# Referencing tables before the tables they reference: an API insert holds its table and then
# wants the parent for its foreign key check, so taking parents last never closes a cycle.
CHILDREN_FIRST = (
    "agent_messages",
    "analytics",
    "messages",
    "pokes",
    "badges",
    "user_sessions",
    "users",
    "cafes",
)

Say = Callable[[str], None]


def run(conn: Connection, *, legacy_timezone: str | None, dry_run: bool, say: Say) -> None:
    migrations = migrate.packaged_migrations()
    with wrap_errors():
        # Session-level: adoption spans many transactions; a second `db init` waits here.
        conn.execute("SELECT pg_advisory_lock(%s)", (migrate.MIGRATION_LOCK_KEY,))
        try:
            _run_locked(conn, migrations, legacy_timezone, dry_run, say)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (migrate.MIGRATION_LOCK_KEY,))


def _run_locked(
    conn: Connection,
    migrations: list[migrate.Migration],
    legacy_timezone: str | None,
    dry_run: bool,
    say: Say,
) -> None:
    pending = migrate.pending(conn, migrations)
    adopting = bool(pending) and has_tables(conn) and migrate.current_version(conn) is None
    if adopting:
        adoption = adopt.prepare(conn, migrations, legacy_timezone)
        say(
            f"adopting a database of the original schema (naive times read in "
            f"{adoption.found.zone})"
            if adoption.found.naive
            else "adopting an existing database"
        )
        if dry_run:
            adopt.describe(adoption, say)
        else:
            adopt.execute(conn, adoption, say)
            _log(adoption)
    if dry_run:
        _describe_migrations(pending, adopting, say)
        say("dry run: nothing was changed")
        return
    applied = _apply(conn, migrations, short_locks=adopting)
    version = migrate.current_version(conn)
    say(f"schema at version {version} ({', '.join(applied) if applied else 'nothing to do'})")


def _describe_migrations(pending: list[migrate.Migration], adopting: bool, say: Say) -> None:
    if not pending:
        say("migrations: nothing to do")
    for migration in pending:
        what = (
            "creates brewd's own tables (job_runs, job_state); finds every other object in place"
            if adopting and migration.version == 1
            else "creates what it lacks"
        )
        say(f"migration {migration.name}: {what}")
        lock = f"lock_timeout {adopt.LOCK_TIMEOUT}, retried" if adopting else "lock_timeout 10s"
        tables = ", ".join(CHILDREN_FIRST) if adopting else "each table it names"
        say(f"    lock: ACCESS EXCLUSIVE on {tables}, for milliseconds ({lock})")
        say("    rows: none changed")


def _apply(
    conn: Connection, migrations: list[migrate.Migration], *, short_locks: bool
) -> list[str]:
    if not short_locks:
        return migrate.apply(conn, migrations)
    for attempt in range(1, adopt.ATTEMPTS + 1):
        try:
            return migrate.apply(
                conn, migrations, lock_timeout=adopt.LOCK_TIMEOUT, lock_first=CHILDREN_FIRST
            )
        except TransientDatabaseError:
            if attempt == adopt.ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
    return []


def _log(adoption: adopt.Adoption) -> None:
    """The journal's record of what adoption changed (the output says it too)."""
    logger.bind(
        steps=len(adoption.steps),
        badges_deactivated=len(adoption.deactivated),
        badge_ids=",".join(str(row["id"]) for row in adoption.deactivated),
        legacy_timezone=adoption.found.zone,
    ).info(
        "db init adopted the database: {} step(s), {} duplicate active badge(s) deactivated",
        len(adoption.steps),
        len(adoption.deactivated),
    )
