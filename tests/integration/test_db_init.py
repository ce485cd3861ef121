"""`brewd db init`: creates the schema and is idempotent (adoption: test_db_adopt.py)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from brewd.cli.brewd import main
from tests.helpers import one

SCHEMA_QUERY = """
SELECT table_name, column_name, data_type, is_nullable, column_default
FROM information_schema.columns WHERE table_schema = 'public'
ORDER BY table_name, column_name
"""
INDEX_QUERY = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


# db init sets up logging on the test's captured stderr; undo it after each test.
pytestmark = pytest.mark.usefixtures("fresh_loguru")


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


def test_one_active_badge_per_type_is_enforced(pg: psycopg.Connection[Any]) -> None:
    cafe = one(pg.execute("INSERT INTO cafes (name) VALUES ('c') RETURNING id"))["id"]
    user = one(
        pg.execute(
            "INSERT INTO users (username, cafe_id, expires_at) VALUES ('u', %s, now() + '1h')"
            " RETURNING id",
            (cafe,),
        )
    )["id"]
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


def test_dry_run_on_an_empty_database_lists_the_migrations_and_creates_nothing(
    pg_empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"DATABASE_URL": pg_empty_dsn}
    assert main(["db", "init", "--dry-run", "--config", "/dev/null"], env) == 0
    out = capsys.readouterr().out
    assert "migration 0001_initial.sql" in out
    assert "dry run: nothing was changed" in out
    assert snapshot(pg_empty_dsn) == ([], [])
