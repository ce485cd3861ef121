"""The steps that adopt a database made by the original schema, each with its SQL and its lock.

Every step is chosen so that the API servers keep reading and writing while it runs: columns
are added with constant defaults (metadata only, no table rewrite), indexes are built
CONCURRENTLY (SHARE UPDATE EXCLUSIVE: reads and writes go on), the check constraint is added
NOT VALID and validated separately. The only ACCESS EXCLUSIVE locks are catalogue changes of
milliseconds, taken under a short lock_timeout and retried (brewd/db/adopt.py).
No column type is changed: naive `timestamp` columns stay, and brewd reads them as instants
in the legacy zone (docs/migration.md, "Time").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from brewd.db.legacy import Found
from brewd.db.migrate import Migration

CATALOGUE_LOCK = "ACCESS EXCLUSIVE (catalogue only, milliseconds; lock_timeout, retried)"
BUILD_LOCK = "SHARE UPDATE EXCLUSIVE (reads and writes continue)"
ROW_LOCK = "ROW EXCLUSIVE, and a row lock on each row updated"

# Of the duplicate active badges of one (user, type), the newest stays active; ties (same
# created_at) go to the greatest id, so the choice is the same on every run.
DUPLICATE_BADGES = """
SELECT id, user_id, type FROM (
    SELECT id, user_id, type, row_number() OVER (
        PARTITION BY user_id, type ORDER BY created_at DESC NULLS LAST, id DESC) AS rank
    FROM badges WHERE is_active
) AS ranked
WHERE rank > 1
ORDER BY user_id, type, id
"""
DEACTIVATE_DUPLICATES = """
UPDATE badges SET is_active = false, updated_at = now()
WHERE is_active AND id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (
            PARTITION BY user_id, type ORDER BY created_at DESC NULLS LAST, id DESC) AS rank
        FROM badges WHERE is_active
    ) AS ranked
    WHERE rank > 1
)
RETURNING id, user_id, type
"""

_INDEX = re.compile(
    r"CREATE (UNIQUE )?INDEX IF NOT EXISTS (\w+)\s+ON (\w+)\s*(\([^;]*?);", re.IGNORECASE
)


@dataclass(frozen=True)
class Step:
    what: str
    sql: str
    lock: str
    table: str
    concurrent: bool = False  # must run outside a transaction (CREATE/DROP INDEX CONCURRENTLY)
    dedupe: bool = False  # resolves duplicate active badges; reports the rows it changed
    changes: int = 0  # rows it will change, as counted when planned


def plan(found: Found, migrations: list[Migration], duplicates: int) -> list[Step]:
    """Every change adoption makes on this database, in order; empty when nothing is left."""
    return [
        *_columns(found),
        *_duplicates(duplicates),
        *_check(found),
        *_indexes(found, migrations),
    ]


def _columns(found: Found) -> list[Step]:
    steps = []
    if not found.has_column("cafes", "timezone"):
        # Existing and new cafés keep the zone the original judged their hours in.
        zone = found.zone.replace("'", "''")
        steps.append(
            Step(
                "add cafes.timezone, default the legacy zone (metadata only)",
                f"ALTER TABLE cafes ADD COLUMN IF NOT EXISTS timezone text NOT NULL"
                f" DEFAULT '{zone}'",
                CATALOGUE_LOCK,
                "cafes",
            )
        )
    if not found.has_column("pokes", "expired_at"):
        steps.append(
            Step(
                "add pokes.expired_at (metadata only, NULL: every poke live)",
                "ALTER TABLE pokes ADD COLUMN IF NOT EXISTS expired_at timestamptz",
                CATALOGUE_LOCK,
                "pokes",
            )
        )
    if not found.has_column("analytics", "from_original"):
        # Rows already there are the original's (true); rows written from now on are not.
        steps.append(
            Step(
                "mark the original's analytics rows (from_original, metadata only)",
                "ALTER TABLE analytics ADD COLUMN IF NOT EXISTS from_original boolean"
                " NOT NULL DEFAULT true; ALTER TABLE analytics ALTER COLUMN from_original"
                " SET DEFAULT false",
                CATALOGUE_LOCK,
                "analytics",
            )
        )
    return steps


def _duplicates(duplicates: int) -> list[Step]:
    if not duplicates:
        return []
    return [
        Step(
            f"deactivate {duplicates} duplicate active badge(s), keeping the newest of each"
            " (user, type)",
            DEACTIVATE_DUPLICATES,
            ROW_LOCK,
            "badges",
            dedupe=True,
            changes=duplicates,
        )
    ]


def _check(found: Found) -> list[Step]:
    if "pokes_not_self" in found.constraints:
        return []
    return [
        Step(
            "add CHECK pokes_not_self NOT VALID (no scan)",
            "ALTER TABLE pokes ADD CONSTRAINT pokes_not_self"
            " CHECK (from_user_id <> to_user_id) NOT VALID",
            CATALOGUE_LOCK,
            "pokes",
        ),
        Step(
            "validate CHECK pokes_not_self (one scan)",
            "ALTER TABLE pokes VALIDATE CONSTRAINT pokes_not_self",
            BUILD_LOCK,
            "pokes",
        ),
    ]


def _indexes(found: Found, migrations: list[Migration]) -> list[Step]:
    steps = []
    for migration in migrations:
        for match in _INDEX.finditer(migration.sql):
            unique, name, table, rest = match.groups()
            valid = found.indexes.get(name)
            if valid or table not in found.columns:  # brewd's own tables come with theirs
                continue
            if valid is False:  # a failed concurrent build leaves an INVALID index behind
                steps.append(
                    Step(
                        f"drop the INVALID index {name} left by an interrupted build",
                        f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
                        BUILD_LOCK,
                        table,
                        concurrent=True,
                    )
                )
            body = " ".join(rest.split())
            steps.append(
                Step(
                    f"build index {name} concurrently",
                    f"CREATE {unique or ''}INDEX CONCURRENTLY IF NOT EXISTS {name}"
                    f" ON {table} {body}",
                    BUILD_LOCK,
                    table,
                    concurrent=True,
                )
            )
    return steps
