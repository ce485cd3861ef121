"""A big backlog of expired users with open sessions, and the checks that no user is half done."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.reliability.world import one

Conn = psycopg.Connection[dict[str, Any]]


def expired_backlog(pg: Conn, users: int) -> None:
    """`users` expired, still-active users in one café, each with one open session; analysed,
    as autovacuum would have done on a live server."""
    cafe = one(pg, "INSERT INTO cafes (name) VALUES ('Backlog') RETURNING id")
    pg.execute(
        "WITH u AS (INSERT INTO users (username, cafe_id, expires_at)"
        " SELECT 'u' || g, %s, now() - make_interval(secs => g) FROM generate_series(1, %s) g"
        " RETURNING id, expires_at)"
        " INSERT INTO user_sessions (user_id, started_at)"
        " SELECT id, expires_at - interval '1 hour' FROM u",
        (cafe, users),
    )
    pg.execute("ANALYZE users")
    pg.execute("ANALYZE user_sessions")


def consistency(pg: Conn) -> dict[str, int]:
    """done: users expired; half_done: inactive with an open session; closed_but_active: a
    session closed for a user still active. Only `done` may ever be non-zero."""
    row = pg.execute(
        "SELECT count(*) FILTER (WHERE NOT u.is_active) AS done,"
        " count(*) FILTER (WHERE NOT u.is_active AND s.ended_at IS NULL) AS half_done,"
        " count(*) FILTER (WHERE u.is_active AND s.ended_at IS NOT NULL) AS closed_but_active"
        " FROM users u JOIN user_sessions s ON s.user_id = u.id"
    ).fetchone()
    assert row is not None
    return {k: int(v) for k, v in row.items()}


def run_row(pg: Conn, run_id: int) -> dict[str, Any]:
    row = pg.execute(
        "SELECT status, error, message, affected_records FROM job_runs WHERE id = %s", (run_id,)
    ).fetchone()
    assert row is not None
    return row
