"""`brewd db init`: apply the packaged migrations in order, once each, safely on a live database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from psycopg import sql

from brewd.adapters.pg import Connection, wrap_errors

# Any constant works; it only has to be the same for every brewd that runs `db init`.
MIGRATION_LOCK_KEY = 0x62726577  # "brew"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def packaged_migrations() -> list[Migration]:
    """The migrations shipped in brewd/db/migrations, in version order."""
    found = []
    for entry in resources.files("brewd.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def apply(
    conn: Connection,
    migrations: list[Migration] | None = None,
    *,
    lock_timeout: str = "10s",
    lock_first: tuple[str, ...] = (),
) -> list[str]:
    """Apply what is missing; return the names applied. Concurrent callers serialize on a lock.

    `lock_first`: tables to lock (ACCESS EXCLUSIVE, in that order) before anything else, so
    that the migration's own locks, taken one by one, cannot deadlock with live writers.
    """
    applied_now: list[str] = []
    with wrap_errors(), conn.transaction():
        # Fail fast instead of queueing behind a long transaction that holds a table lock,
        # and make concurrent `db init`s wait for each other rather than collide.
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(lock_timeout))
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in conn.execute("SELECT version FROM schema_migrations")}
        if lock_first and len(done) < len(migrations or packaged_migrations()):
            conn.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(map(sql.Identifier, lock_first))
                )
            )
        for migration in migrations or packaged_migrations():
            if migration.version in done:
                continue
            # A trusted file shipped in the package, not user input.
            conn.execute(sql.SQL(migration.sql))
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.name)
    return applied_now


def pending(conn: Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """The migrations not applied yet (all of them when `db init` never ran)."""
    done: set[int] = set()
    if current_version(conn) is not None:
        with wrap_errors():
            done = {row["version"] for row in conn.execute("SELECT version FROM schema_migrations")}
    return [m for m in migrations or packaged_migrations() if m.version not in done]


def current_version(conn: Connection) -> int | None:
    """The newest applied version, or None when `db init` never ran."""
    with wrap_errors():
        exists = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
        if not exists or exists["t"] is None:
            return None
        row = conn.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()
        return row["v"] if row else None
