"""A small café world seeded relative to the database's now(), so that every one of the six
jobs has work when a real daemon runs it (expired users, badges and pokes, a Social Butterfly,
cafés with two people in them for the café host)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

Conn = psycopg.Connection[dict[str, Any]]

JOBS = (
    "expireUsers",
    "expireBadges",
    "calculateBadges",
    "expirePokes",
    "aggregateAnalytics",
    "proactiveMessages",
)


@dataclass
class World:
    cafes: list[UUID] = field(default_factory=list)
    expired_users: list[UUID] = field(default_factory=list)
    live_users: list[UUID] = field(default_factory=list)


def one(pg: Conn, query: str, params: Any = None) -> Any:
    row = pg.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def seed(
    pg: Conn, *, names: tuple[str, ...] = ("Café Nord", "Café Sud"), text: str = "hi"
) -> World:
    """Per café: two live users in an open session who poke and write `text`; two expired users
    with open sessions and an expired badge; expired pokes. `names` are the cafés' names (the
    usernames are derived from them, so SQL-looking names reach every table)."""
    world = World()
    for index, name in enumerate(names):
        cafe = one(
            pg,
            "INSERT INTO cafes (name, location, timezone, enable_proactive_messages)"
            " VALUES (%s, %s, 'Europe/Paris', true) RETURNING id",
            (name, name),
        )
        world.cafes.append(cafe)
        for n in range(2):
            live = _user(pg, cafe, f"{name}#{index}live{n}", "now() + interval '1 day'")
            expired = _user(pg, cafe, f"{name}#{index}gone{n}", "now() - interval '1 hour'")
            world.live_users.append(live)
            world.expired_users.append(expired)
            for user in (live, expired):
                pg.execute(
                    "INSERT INTO user_sessions (user_id, started_at) VALUES (%s, now() - interval"
                    " '2 hours')",
                    (user,),
                )
            pg.execute(
                "INSERT INTO badges (user_id, type, name, description, expires_at)"
                " VALUES (%s, 'NIGHT_OWL', %s, %s, now() - interval '1 minute')",
                (expired, name, text),
            )
            pg.execute(
                "INSERT INTO messages (user_id, content, created_at)"
                " VALUES (%s, %s, now() - interval '90 minutes')",
                (live, text),
            )
        _pokes(pg, world.live_users[-2], world.live_users[-1], text)
    return world


def _user(pg: Conn, cafe: UUID, username: str, expires: str) -> UUID:
    return one(
        pg,
        "INSERT INTO users (username, cafe_id, created_at, expires_at)"
        f" VALUES (%s, %s, now() - interval '3 hours', {expires}) RETURNING id",
        (username, cafe),
    )


def _pokes(pg: Conn, sender: UUID, receiver: UUID, text: str) -> None:
    """Twelve pokes sent in the last days (a Social Butterfly), every one already expired."""
    pg.execute(
        "INSERT INTO pokes (from_user_id, to_user_id, message, created_at, expires_at)"
        " SELECT %s, %s, %s, now() - make_interval(hours => 2 + g), now() - interval '1 minute'"
        " FROM generate_series(1, 12) g",
        (sender, receiver, text),
    )


def database_effects(pg: Conn) -> dict[str, int]:
    """What the six jobs must have done to a seeded world, as counts."""
    queries = {
        "active_expired_users": "SELECT count(*) FROM users"
        " WHERE is_active AND expires_at <= now()",
        "open_sessions_of_inactive": "SELECT count(*) FROM user_sessions s JOIN users u"
        " ON u.id = s.user_id WHERE NOT u.is_active AND s.ended_at IS NULL",
        "active_expired_badges": "SELECT count(*) FROM badges"
        " WHERE is_active AND expires_at <= now()",
        "butterflies": "SELECT count(*) FROM badges WHERE type = 'SOCIAL_BUTTERFLY' AND is_active",
        "live_expired_pokes": "SELECT count(*) FROM pokes WHERE expired_at IS NULL"
        " AND expires_at <= now()",
        "analytics_rows": "SELECT count(*) FROM analytics",
        "agent_messages": "SELECT count(*) FROM agent_messages",
    }
    return {key: int(one(pg, query)) for key, query in queries.items()}


def run_statuses(pg: Conn) -> dict[str, list[str]]:
    rows = pg.execute("SELECT job, status FROM job_runs ORDER BY id").fetchall()
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["job"], []).append(row["status"])
    return found
