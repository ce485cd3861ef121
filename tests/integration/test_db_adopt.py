"""`brewd db init` adopts a live database made by the original scheduler's schema (SPEC §10)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from brewd.adapters.pg import Database
from brewd.cli.brewd import main
from brewd.core.config import DatabaseConfig
from brewd.db import adopt, init, migrate
from tests.helpers import one, wait_until
from tests.integration.test_db_init import snapshot
from tests.integration.test_journal import journal_setup
from tests.legacy_schema import HEAD_USERS
from tests.legacy_world import TABLES, World, fill, rows
from tests.native_journal import Journal

Conn = psycopg.Connection[dict[str, Any]]


# db init sets up logging on the test's captured stderr; undo it after each test.
pytestmark = pytest.mark.usefixtures("fresh_loguru")


def db_init(dsn: str, *extra: str) -> int:
    return main(["db", "init", "--config", "/dev/null", *extra], {"DATABASE_URL": dsn})


def connect(dsn: str) -> Conn:
    return psycopg.connect(dsn, autocommit=True, row_factory=dict_row)


def everything(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(dsn) as conn:
        return {table: rows(conn, table) for table in TABLES}


def active_badges(dsn: str) -> set[str]:
    with connect(dsn) as conn:
        found = conn.execute("SELECT id FROM badges WHERE is_active").fetchall()
    return {str(row["id"]) for row in found}


@pytest.fixture
def world(legacy_dsn: str) -> World:
    with connect(legacy_dsn) as conn:
        return fill(conn)


def test_adoption_keeps_every_row_and_deactivates_only_the_older_duplicates(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = everything(legacy_dsn)
    assert db_init(legacy_dsn) == 0
    out = capsys.readouterr().out
    after = everything(legacy_dsn)
    # Newest of each (user, type) stays; a tie on created_at goes to the greatest id.
    losers = [*world.early[:2], world.night[0]]
    for badge in losers:
        assert f"deactivated badge {badge}" in out
    assert out.count("deactivated badge") == 3
    assert {str(world.early[2]), str(world.night[1])} <= active_badges(legacy_dsn)
    assert not {str(b) for b in losers} & active_badges(legacy_dsn)
    # Every other row and value is untouched (badges: all but the three deactivated rows).
    for table in TABLES:
        if table != "badges":
            assert after[table] == before[table], table
    unchanged = [r for r in before["badges"] if r[0] not in losers]
    assert [r for r in after["badges"] if r[0] not in losers] == unchanged
    assert len(after["badges"]) == len(before["badges"])
    assert f"schema at version {max(m.version for m in migrate.packaged_migrations())}" in out


def test_adoption_is_idempotent(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db_init(legacy_dsn) == 0
    first_schema, first_rows = snapshot(legacy_dsn), everything(legacy_dsn)
    capsys.readouterr()
    assert db_init(legacy_dsn) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(legacy_dsn) == first_schema
    assert everything(legacy_dsn) == first_rows


def test_adoption_keeps_the_time_columns_naive_and_marks_the_original_analytics(
    legacy_dsn: str, world: World
) -> None:
    assert db_init(legacy_dsn) == 0
    with connect(legacy_dsn) as conn:
        kind = conn.execute(
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'users' AND column_name = 'expires_at'"
        ).fetchone()
        assert kind == {"data_type": "timestamp without time zone"}
        marks = conn.execute("SELECT DISTINCT from_original FROM analytics").fetchall()
        assert marks == [{"from_original": True}]
        zone = conn.execute("SELECT DISTINCT timezone FROM cafes").fetchall()
        assert zone == [{"timezone": "America/New_York"}]
        invalid = conn.execute("SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid").fetchone()
        assert invalid == {"n": 0}


def test_dry_run_prints_sql_locks_and_rows_and_changes_nothing(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    schema, data = snapshot(legacy_dsn), everything(legacy_dsn)
    assert db_init(legacy_dsn, "--dry-run") == 0
    out = capsys.readouterr().out
    assert snapshot(legacy_dsn) == schema
    assert everything(legacy_dsn) == data
    assert "deactivate 3 duplicate active badge(s)" in out
    assert "3 changed (is_active = false)" in out
    assert (
        "sql: CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS badges_one_active_per_type_idx" in out
    )
    assert "lock: SHARE UPDATE EXCLUSIVE" in out
    assert "lock: ACCESS EXCLUSIVE (catalogue only" in out
    assert "sql: ALTER TABLE cafes ADD COLUMN IF NOT EXISTS timezone" in out
    assert "migration 0001_initial.sql" in out
    assert "dry run: nothing was changed" in out


def test_dry_run_after_adoption_has_nothing_to_do(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db_init(legacy_dsn) == 0
    capsys.readouterr()
    assert db_init(legacy_dsn, "--dry-run") == 0
    assert "migrations: nothing to do" in capsys.readouterr().out


def test_an_invalid_index_left_by_an_interrupted_build_is_rebuilt(
    legacy_dsn: str, world: World
) -> None:
    with connect(legacy_dsn) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY badges_one_active_per_type_idx"
            " ON badges (user_id, type) WHERE is_active"
        )
    assert db_init(legacy_dsn) == 0
    with connect(legacy_dsn) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'badges_one_active_per_type_idx'::regclass"
        ).fetchone()
    assert valid == {"indisvalid": True}


def test_a_database_of_another_schema_is_a_data_error_naming_what_is_missing(
    pg_empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(pg_empty_dsn) as conn:
        conn.execute(HEAD_USERS)
    assert db_init(pg_empty_dsn) == 65
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "users.is_active" in err
    assert "table badges" in err
    assert "unavailable" not in err
    assert "Traceback" not in err
    with connect(pg_empty_dsn) as conn:  # nothing was changed
        assert conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone() == {
            "t": None
        }


def test_adoption_is_logged(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db_init(legacy_dsn) == 0
    err = capsys.readouterr().err
    assert "db init adopted the database" in err
    assert "3 duplicate active badge(s) deactivated" in err


def test_legacy_timezone_names_the_zone_of_naive_times(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db_init(legacy_dsn, "--set", "database.legacy_timezone=Asia/Tokyo") == 0
    assert "naive times read in Asia/Tokyo" in capsys.readouterr().out
    with connect(legacy_dsn) as conn:
        zones = conn.execute("SELECT DISTINCT timezone FROM cafes").fetchall()
    assert zones == [{"timezone": "Asia/Tokyo"}]


def test_brewds_connections_use_the_legacy_timezone_across_pool_resets(pg_dsn: str) -> None:
    config = DatabaseConfig(
        url=pg_dsn, pool_min_size=1, pool_max_size=2, legacy_timezone="Asia/Tokyo"
    )
    db = Database(config, application_name="brewd-test")
    db.open(wait=True, timeout=10)
    try:
        for _ in range(2):  # the second use follows the pool's RESET ALL
            with db.connection() as conn:
                assert conn.execute("SHOW TimeZone").fetchone() == {"TimeZone": "Asia/Tokyo"}
                conn.execute("SET TimeZone = 'UTC'")
    finally:
        db.close()


def test_an_unknown_legacy_timezone_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"BREWD_DATABASE_LEGACY_TIMEZONE": "Mars/Olympus_Mons"}
    assert main(["check-config", "--config", "/dev/null"], env) == 78
    err = capsys.readouterr().err
    assert "database.legacy_timezone" in err
    assert err.count("\n") == 1


def test_a_lock_held_by_a_long_transaction_is_waited_out_and_retried(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first ALTER gives up after lock_timeout (instead of queueing the API behind it) and
    succeeds on a later attempt, once the long transaction is gone."""
    blocker = connect(legacy_dsn)
    blocker.autocommit = False
    blocker.execute("SELECT count(*) FROM cafes")  # holds ACCESS SHARE until it commits
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(db_init(legacy_dsn)))
    thread.start()
    try:
        with connect(legacy_dsn) as watcher:
            wait_until(
                lambda: one(
                    watcher.execute(
                        "SELECT count(*) AS n FROM pg_stat_activity"
                        " WHERE application_name = 'brewd-db-init' AND wait_event_type = 'Lock'"
                    )
                )["n"],
                what="db init waiting for the lock on cafes",
            )
    finally:
        blocker.commit()
        blocker.close()
        thread.join(timeout=60)
    assert result == [0]
    assert "add cafes.timezone" in capsys.readouterr().out


def test_a_database_zone_that_is_not_iana_asks_for_legacy_timezone(
    legacy_dsn: str, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    with connect(legacy_dsn) as conn:
        conn.execute(f"ALTER DATABASE \"{conn.info.dbname}\" SET TimeZone = '<+03>-03'")
    assert db_init(legacy_dsn) == 78
    err = capsys.readouterr().err
    assert "set database.legacy_timezone" in err
    assert err.count("\n") == 1
    assert db_init(legacy_dsn, "--set", "database.legacy_timezone=Europe/Istanbul") == 0


def test_duplicates_written_after_the_dedupe_step_are_resolved_before_the_index(
    legacy_dsn: str, world: World
) -> None:
    """As if an API server wrote new duplicates between the dedupe step and the index build:
    the build fails, its INVALID index is dropped, the duplicates deactivated, the build redone."""
    lines: list[str] = []
    with connect(legacy_dsn) as conn:
        adoption = adopt.prepare(conn, migrate.packaged_migrations(), None)
        adoption.steps = [step for step in adoption.steps if not step.dedupe]
        adopt.execute(conn, adoption, lines.append)
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'badges_one_active_per_type_idx'::regclass"
        ).fetchone()
    assert valid == {"indisvalid": True}
    assert {str(world.early[2]), str(world.night[1])} <= active_badges(legacy_dsn)
    assert {str(row["id"]) for row in adoption.deactivated} == {
        str(b) for b in (*world.early[:2], world.night[0])
    }


def test_the_journal_records_what_adoption_changed(
    legacy_dsn: str, world: World, tmp_path: Path
) -> None:
    journal = Journal(str(tmp_path / "journal.sock"))
    try:
        journal_setup(journal)
        with connect(legacy_dsn) as conn:
            init.run(conn, legacy_timezone=None, dry_run=False, say=lambda line: None)
        fields = journal.receive()
    finally:
        journal.sock.close()
    assert fields["MESSAGE"].startswith("db init adopted the database")
    assert fields["BREWD_BADGES_DEACTIVATED"] == "3"
    assert set(fields["BREWD_BADGE_IDS"].split(",")) == {
        str(b) for b in (*world.early[:2], world.night[0])
    }
    assert fields["BREWD_LEGACY_TIMEZONE"] == "America/New_York"
