"""Representative data of a live original deployment, written as its API and scheduler did:
naive wall-clock times in the database's zone (America/New_York), duplicate active badges
(the original's calculateBadges double-awards), users without sessions, the original's own
analytics rows (date and hour in its local zone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import psycopg.rows

Conn = psycopg.Connection[dict[str, Any]]

# The tables adoption must keep row for row (brewd's additions excluded from comparison).
TABLES = (
    "cafes",
    "users",
    "user_sessions",
    "badges",
    "pokes",
    "messages",
    "analytics",
    "agent_messages",
)


@dataclass(frozen=True)
class World:
    cafe: UUID
    early: list[UUID]  # three active EARLY_BIRD badges of one user, oldest first
    night: list[UUID]  # two active NIGHT_OWL badges of one user created at the same instant
    idle_user: UUID  # a user who never had a session


def _id(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> UUID:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return UUID(str(row["id"] if isinstance(row, dict) else row[0]))


def fill(conn: Conn) -> World:
    """Insert the legacy data; times are New York wall-clock, as the original's NOW() wrote."""
    cafe = _id(
        conn,
        "INSERT INTO cafes (name, location, enable_proactive_messages)"
        " VALUES ('The Daily Grind', 'San Francisco, CA', true) RETURNING id",
    )
    regular = _id(
        conn,
        "INSERT INTO users (username, cafe_id, expires_at, created_at)"
        " VALUES ('regular', %s, '2026-03-10 20:00', '2026-03-09 06:10') RETURNING id",
        (cafe,),
    )
    idle = _id(
        conn,
        "INSERT INTO users (username, cafe_id, expires_at, created_at)"
        " VALUES ('idle', %s, '2026-03-11 08:00', '2026-03-10 07:00') RETURNING id",
        (cafe,),
    )
    conn.execute(
        "INSERT INTO user_sessions (user_id, started_at, ended_at, created_at) VALUES"
        " (%s, '2026-03-09 06:15', '2026-03-09 07:45', '2026-03-09 06:15'),"
        " (%s, '2026-03-10 06:30', NULL, '2026-03-10 06:30')",
        (regular, regular),
    )
    badge = (
        "INSERT INTO badges (user_id, type, name, expires_at, created_at)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id"
    )
    early = [
        _id(conn, badge, (regular, "EARLY_BIRD", "Early Bird", "2026-03-16 00:05", created))
        for created in ("2026-03-07 00:05", "2026-03-08 00:05", "2026-03-09 00:05")
    ]
    night = sorted(
        _id(
            conn, badge, (regular, "NIGHT_OWL", "Night Owl", "2026-03-16 00:05", "2026-03-09 00:05")
        )
        for _ in range(2)
    )
    conn.execute(
        "INSERT INTO badges (user_id, type, name, expires_at, is_active, created_at)"
        " VALUES (%s, 'EARLY_BIRD', 'Early Bird', '2026-02-01', false, '2026-01-25')",
        (regular,),
    )
    conn.execute(
        "INSERT INTO pokes (from_user_id, to_user_id, expires_at, created_at)"
        " VALUES (%s, %s, '2026-03-11 06:40', '2026-03-10 06:40')",
        (regular, idle),
    )
    conn.execute(
        "INSERT INTO messages (user_id, content, created_at)"
        " VALUES (%s, 'morning!', '2026-03-10 06:41')",
        (regular,),
    )
    # The original's hourly rows: date from its UTC clock, hour from its local one.
    conn.execute(
        "INSERT INTO analytics (cafe_id, date, hour, total_users, active_users, total_pokes)"
        " SELECT %s, '2026-03-10', h, 7, 3, 1 FROM generate_series(0, 23) AS h",
        (cafe,),
    )
    conn.execute(
        "INSERT INTO agent_messages (cafe_id, message_type, content, context_data, created_at)"
        " VALUES (%s, 'PROACTIVE', 'Good morning, coffee people!', '{}', '2026-03-10 06:50')",
        (cafe,),
    )
    return World(cafe, early, night, idle)


def rows(conn: Conn, table: str) -> list[tuple[Any, ...]]:
    """Every row of a table as the original's columns, in id order (brewd's additions left out)."""
    cursor = conn.cursor(row_factory=psycopg.rows.tuple_row)
    names = [
        row[0]
        for row in cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " AND column_name NOT IN ('timezone', 'expired_at', 'from_original')"
            " ORDER BY ordinal_position",
            (table,),
        )
    ]
    query = f"SELECT {', '.join(names)} FROM {table} ORDER BY id"
    return [tuple(row) for row in cursor.execute(query).fetchall()]
