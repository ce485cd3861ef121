"""`brewd db init`: creates the schema, is idempotent, and adopts a database that has data."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from brewd.db import migrate
from brewd.main import main

SCHEMA_QUERY = """
SELECT table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY table_name, column_name
"""
INDEX_QUERY = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


def snapshot(dsn: str) -> tuple[list[Any], list[Any]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(SCHEMA_QUERY).fetchall(), conn.execute(INDEX_QUERY).fetchall()


def test_db_init_twice_leaves_the_same_schema(
    pg_empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": pg_empty_dsn}
    assert main(["db", "init", "--config", "/dev/null"], env) == 0
    assert "0001_initial.sql" in capsys.readouterr().out
    first = snapshot(pg_empty_dsn)
    assert main(["db", "init", "--config", "/dev/null"], env) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(pg_empty_dsn) == first
    tables = {row[0] for row in first[0]}
    assert {
        "cafes",
        "users",
        "user_sessions",
        "badges",
        "pokes",
        "messages",
        "analytics",
        "agent_messages",
        "job_runs",
        "job_state",
        "proactive_rounds",
        "proactive_work",
        "schema_migrations",
    } <= tables


def test_db_init_adopts_an_original_database_with_data(pg_empty_dsn: str) -> None:
    with psycopg.connect(pg_empty_dsn, autocommit=True, row_factory=dict_row) as conn:
        # The original system's tables, without brewd's additions, holding data.
        conn.execute(
            "CREATE TABLE cafes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL,"
            " location text, created_at timestamptz NOT NULL DEFAULT now(),"
            " updated_at timestamptz NOT NULL DEFAULT now());"
            "INSERT INTO cafes (name) VALUES ('Old Café');"
        )
        migrate.apply(conn)
        row = conn.execute("SELECT name, timezone, is_active FROM cafes").fetchone()
        assert row == {"name": "Old Café", "timezone": "UTC", "is_active": True}
        newest = max(m.version for m in migrate.packaged_migrations())
        assert migrate.current_version(conn) == newest
        assert migrate.apply(conn) == []


def test_one_active_badge_per_type_is_enforced(pg: psycopg.Connection[Any]) -> None:
    cafe = pg.execute("INSERT INTO cafes (name) VALUES ('c') RETURNING id").fetchone()["id"]
    user = pg.execute(
        "INSERT INTO users (username, cafe_id, expires_at) VALUES ('u', %s, now() + '1h')"
        " RETURNING id",
        (cafe,),
    ).fetchone()["id"]
    insert = (
        "INSERT INTO badges (user_id, type, name, is_active)"
        " VALUES (%s, 'EARLY_BIRD', 'Early Bird', %s)"
    )
    pg.execute(insert, (user, False))
    pg.execute(insert, (user, True))
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg.execute(insert, (user, True))


def test_db_init_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"}
    assert (
        main(["db", "init", "--config", "/dev/null", "--set", "database.connect_timeout=2"], env)
        == 69
    )
    err = capsys.readouterr().err
    assert err.startswith("brewd: database unavailable")
    assert err.count("\n") == 1
