"""`brewd db init` against a wrong database setting: one line with the cause, at once, and an
exit status that says which kind of error (the agreed sysexits codes)."""

from __future__ import annotations

import socket
import time

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from brewd.cli.brewd import main

QUICK_S = 3.0  # today's pool waited 10 s; a permanent error must not be retried


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def db_init(dsn: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    status = main(["db", "init", "--config", "/dev/null"], {"DATABASE_URL": dsn})
    captured = capsys.readouterr()
    return status, captured.err + captured.out, time.monotonic() - started


@pytest.mark.parametrize(
    ("change", "status", "cause"),
    [
        ({"dbname": "brewd_no_such_db"}, 67, 'database "brewd_no_such_db" does not exist'),
        ({"user": "brewd_no_such_role"}, 67, 'role "brewd_no_such_role" does not exist'),
        ({"host": "brewd-no-such-host.invalid"}, 68, "brewd-no-such-host.invalid"),
        ({"host": "127.0.0.1", "port": "refused"}, 69, "Connection refused"),
    ],
    ids=["missing database", "missing role", "unresolvable host", "refused port"],
)
def test_db_init_connection_errors_are_one_line_and_immediate(
    pg_dsn: str,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    status: int,
    cause: str,
) -> None:
    if change.get("port") == "refused":
        change = change | {"port": str(free_port())}
    got, output, took = db_init(make_conninfo(pg_dsn, **change), capsys)
    assert (got, output.count("\n")) == (status, 1), output
    assert output.startswith("brewd: database unavailable: "), output
    assert cause in output, output
    assert took < QUICK_S, f"{took:.1f}s"


def test_db_init_on_a_schema_it_cannot_adopt_exits_65_in_one_line(
    pg_empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Duplicate badges are resolved by adoption now (tests/integration/test_db_adopt.py); a
    # database whose tables lack what brewd needs is the data error that remains.
    with psycopg.connect(pg_empty_dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE cafes (id uuid PRIMARY KEY, name text);"
            "CREATE TABLE users (id uuid PRIMARY KEY, username text, cafe_id uuid)"
        )
    got, output, _ = db_init(pg_empty_dsn, capsys)
    assert (got, output.count("\n")) == (65, 1), output
    assert "is_active" in output, output
