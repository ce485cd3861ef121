"""What a database made by the original scheduler's schema holds, read from the catalogue.

brewd adopts such a database in place (brewd/db/adopt.py). This module only looks: which of
the original's tables and columns are there, whether its time columns are naive `timestamp`,
which of brewd's indexes exist (and whether a failed concurrent build left one INVALID), and
the zone in which the naive times were written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from brewd.adapters.pg import Connection
from brewd.core.errors import CannotAdopt, ConfigError

# The original schema's tables and the columns brewd's jobs read or write (SPEC §3, §10).
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "cafes": ("id", "name", "location", "enable_proactive_messages", "is_active", "created_at"),
    "users": ("id", "username", "cafe_id", "expires_at", "is_active", "created_at", "updated_at"),
    "user_sessions": ("id", "user_id", "started_at", "ended_at", "created_at"),
    "badges": (
        "id",
        "user_id",
        "type",
        "name",
        "description",
        "expires_at",
        "is_active",
        "created_at",
        "updated_at",
    ),
    "pokes": ("id", "from_user_id", "to_user_id", "message", "expires_at", "created_at"),
    "messages": ("id", "user_id", "content", "created_at"),
    "analytics": (
        "id",
        "cafe_id",
        "date",
        "hour",
        "total_users",
        "active_users",
        "total_pokes",
        "total_messages",
        "average_session_duration",
        "peak_concurrent_users",
        "created_at",
        "updated_at",
    ),
    "agent_messages": ("id", "cafe_id", "message_type", "content", "context_data", "created_at"),
}


@dataclass(frozen=True)
class Found:
    """The adoptable state of a database (only built when nothing required is missing)."""

    columns: Mapping[str, Mapping[str, str]]  # table -> column -> data type
    indexes: Mapping[str, bool]  # index name -> valid
    constraints: frozenset[str]
    zone: str  # where naive times are instants: database.legacy_timezone or the TimeZone

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, {})

    @property
    def naive(self) -> bool:
        """True when the time columns are `timestamp without time zone` (the original's)."""
        return self.columns["users"]["expires_at"] == "timestamp without time zone"


def has_tables(conn: Connection) -> bool:
    """True when the database already holds the original's tables (so `db init` adopts)."""
    row = conn.execute("SELECT to_regclass('public.users') IS NOT NULL AS found").fetchone()
    return bool(row and row["found"])


def inspect(conn: Connection, legacy_timezone: str | None) -> Found:
    """Read the catalogue; raise CannotAdopt naming everything required that is missing."""
    columns: dict[str, dict[str, str]] = {}
    for row in conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'public'"
    ):
        columns.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    missing = [
        f"{table}.{column}" if table in columns else f"table {table}"
        for table, wanted in REQUIRED.items()
        for column in (wanted if table in columns else wanted[:1])
        if column not in columns.get(table, {})
    ]
    if not _analytics_key_is_unique(conn):
        missing.append("a unique (cafe_id, date, hour) on analytics")
    if missing:
        raise CannotAdopt(
            "cannot adopt this database: missing " + ", ".join(missing) + " (brewd adopts the"
            " schema of the original scheduler, database/schema.sql; see docs/migration.md)"
        )
    indexes = {
        row["name"]: row["valid"]
        for row in conn.execute(
            "SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index AS i"
            " JOIN pg_class AS c ON c.oid = i.indexrelid"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
        )
    }
    constraints = frozenset(
        row["conname"]
        for row in conn.execute(
            "SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
        )
    )
    zone = legacy_timezone or _database_zone(conn)
    _check_zone(zone)
    return Found(columns, indexes, constraints, zone)


def _analytics_key_is_unique(conn: Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) AS n FROM pg_index AS i"
        " WHERE i.indrelid = to_regclass('public.analytics') AND i.indisunique"
        " AND i.indpred IS NULL AND i.indnatts = 3"
        " AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute AS a"
        "      WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey))"
        "     = ARRAY['cafe_id', 'date', 'hour']"
    ).fetchone()
    return bool(row and row["n"])


def _check_zone(zone: str) -> None:
    """The cafés inherit the zone and the jobs judge local hours in it: it must be IANA."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"database.legacy_timezone: the database's TimeZone {zone!r} is not an IANA zone;"
            " set database.legacy_timezone to the zone the original's times were written in"
        ) from exc


def _database_zone(conn: Connection) -> str:
    """The TimeZone this session got from the server: what the original's NOW() defaults used."""
    row = conn.execute("SELECT current_setting('TimeZone') AS zone").fetchone()
    return str(row["zone"]) if row else "UTC"
