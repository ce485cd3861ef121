"""A believable café world at any scale, built inside PostgreSQL, for the demo and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from psycopg import sql

from brewd.adapters.pg import Connection, wrap_errors
from brewd.core.errors import BrewdError
from brewd.demo import worldgen_sql as q

# Whole-hour, half-hour and quarter-hour offsets, both hemispheres, with and without DST.
ZONES = (
    ("UTC", "Reykjavik"),
    ("Europe/Paris", "Paris"),
    ("America/New_York", "New York"),
    ("Asia/Tokyo", "Tokyo"),
    ("Australia/Adelaide", "Adelaide"),
    ("America/Los_Angeles", "Los Angeles"),
    ("Asia/Kolkata", "Bengaluru"),
    ("Europe/London", "London"),
    ("America/Sao_Paulo", "São Paulo"),
    ("Asia/Kathmandu", "Kathmandu"),
)
WORDS = ("Quiet", "Sunny", "Bold", "Velvet", "Little", "Golden", "Misty")
ANIMALS = ("fox", "owl", "otter", "heron", "lynx", "wren", "panda", "koala", "finch")
POKE_TEXTS = ("hey!", "nice playlist", "same order as me?", "👋", "saved you a seat")
CHAT = (
    "anyone tried the oat flat white?",
    "wifi password is on the board",
    "this playlist is great",
    "good morning everyone",
    "who's up for a chess game?",
    "the croissants just came out",
)

# (label, statement): run in this order, each in its own transaction.
STEPS: tuple[tuple[str, LiteralString], ...] = (
    ("cafés", q.CAFES),
    ("user plan", q.WORLD_USERS),
    ("user plan key", q.WORLD_USERS_KEY),
    ("users", q.USERS),
    ("past sessions", q.SESSIONS),
    ("open sessions", q.OPEN_SESSIONS),
    ("pokes", q.POKES),
    ("messages", q.MESSAGES),
    ("badges", q.BADGES),
    ("agent messages", q.AGENT_MESSAGES),
)
TABLES = "cafes, users, user_sessions, pokes, messages, badges, agent_messages"
BULK_TABLES = ("users", "user_sessions", "pokes", "messages", "badges")


@dataclass(frozen=True)
class WorldStats:
    """Rows generated per table, the work waiting for each expiry job, and the time taken."""

    cafes: int
    users: int
    sessions: int
    pokes: int
    messages: int
    badges: int
    open_sessions: int
    users_due: int  # active users past expiry (expireUsers' backlog)
    badges_due: int
    pokes_due: int
    pokes_purgeable: int  # expired more than 8 days ago
    seconds: float


def generate(
    conn: Connection,
    *,
    users: int,
    cafes: int,
    now: datetime,
    seed: int = 1,
    messages_per_user: int = 2,
    progress: Callable[[str], None] | None = None,
) -> WorldStats:
    """Fill an empty, migrated database with a world seen at `now`, in one transaction (all
    or nothing); the same arguments always give the same rows, ids included. `conn` must be
    in autocommit mode: the world is vacuumed and analyzed after its commit. Sessions are 3
    per user; `messages_per_user` is 10 for the issue's 10M-user / 100M-message world."""
    _check(users=users, cafes=cafes, now=now, seed=seed)
    if messages_per_user < 0:
        raise ValueError(f"messages_per_user must be 0 or more (got {messages_per_user})")
    if not conn.autocommit:
        raise ValueError("generate() needs a connection in autocommit mode (it runs VACUUM)")
    report = progress or (lambda line: None)
    started = time.monotonic()
    params = {
        **_vocabulary(),
        "users": users,
        "cafes": cafes,
        "now": now,
        "messages_per_user": messages_per_user,
    }
    with wrap_errors():
        if conn.execute("SELECT EXISTS (SELECT FROM cafes) AS taken").fetchone() == {"taken": True}:
            raise BrewdError("the database already has cafés: generate into an empty one")
        with conn.transaction():
            _prepare(conn, seed=seed, users=users, cafes=cafes)
            indexes = _drop_secondary_indexes(conn)
            for label, statement in STEPS:
                _step(conn, label, statement, params, report)
            _step(conn, "indexes", ";".join(indexes), {}, report)
            conn.execute(q.DROP_HELPERS)
        _step(conn, "vacuum analyze", f"VACUUM (ANALYZE) {TABLES}", {}, report)
        row = conn.execute(q.STATS, {"now": now}).fetchone()
    assert row is not None
    return WorldStats(**row, seconds=round(time.monotonic() - started, 1))


def _prepare(conn: Connection, *, seed: int, users: int, cafes: int) -> None:
    """Session settings for bulk work, for this transaction only, and the SQL helpers."""
    conn.execute("SET LOCAL work_mem = '256MB'")  # hash joins over every user, in memory
    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")  # index builds sort in memory
    # The per-row foreign-key triggers cost more than the inserts themselves, and every
    # reference is consistent by construction; skipping them needs a superuser.
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if row and row["rolsuper"]:
        conn.execute("SET LOCAL session_replication_role = replica")
    conn.execute(_helpers(seed=seed, users=users, cafes=cafes))


def _drop_secondary_indexes(conn: Connection) -> list[str]:
    """Drop the bulk tables' indexes that back no constraint and return their definitions:
    building an index once, sorted, is several times cheaper than millions of random
    insertions. Inside the generation's transaction, so a failure restores them."""
    rows = conn.execute(q.SECONDARY_INDEXES, {"tables": list(BULK_TABLES)}).fetchall()
    for row in rows:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(row["name"])))
    return [row["definition"] for row in rows]


def _check(*, users: int, cafes: int, now: datetime, seed: int) -> None:
    if users < 1 or cafes < 1:
        raise ValueError(f"need at least one user and one café (got {users=}, {cafes=})")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 0 <= seed < 2**31:
        raise ValueError(f"seed must be in [0, 2**31) (got {seed})")


def _helpers(*, seed: int, users: int, cafes: int) -> sql.Composed:
    return sql.SQL(q.HELPERS).format(
        seed=sql.Literal(seed),
        seed_text=sql.Literal(f"{seed}:"),
        users=sql.Literal(users),
        cafes=sql.Literal(cafes),
    )


def _vocabulary() -> dict[str, list[str]]:
    return {
        "zones": [zone for zone, _ in ZONES],
        "cities": [city for _, city in ZONES],
        "words": list(WORDS),
        "animals": list(ANIMALS),
        "pokes": list(POKE_TEXTS),
        "chat": list(CHAT),
    }


def _step(
    conn: Connection,
    label: str,
    statement: LiteralString,
    params: dict[str, Any],
    report: Callable[[str], None],
) -> None:
    started = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(statement, params or None)
        rows = cur.rowcount
    count = f"{rows:,} rows, " if rows > 0 else ""
    report(f"{label}: {count}{time.monotonic() - started:.1f} s")
