"""Builders for proactiveMessages tests: cafés, people, pokes and messages in a real database."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import redis
from loguru import logger
from psycopg.rows import dict_row

from brewd.adapters.cache import Redis, make_client
from brewd.adapters.claude import ClaudeWriter, make_claude
from brewd.core.config import Config, ProactiveConfig, RedisConfig
from brewd.jobs.base import JobContext

Conn = psycopg.Connection[dict[str, Any]]
HOUR = timedelta(hours=1)


def add_cafe(pg: Conn, *, name: str = "Bean There", tz: str = "UTC", **flags: bool) -> UUID:
    row = pg.execute(
        "INSERT INTO cafes (name, location, timezone, enable_proactive_messages, is_active)"
        " VALUES (%s, 'Here', %s, %s, %s) RETURNING id",
        (name, tz, flags.get("enabled", True), flags.get("active", True)),
    ).fetchone()
    assert row is not None
    return UUID(str(row["id"]))


def add_users(
    pg: Conn, cafe: UUID, n: int, now: datetime, *, prefix: str = "guest", session: bool = True
) -> list[UUID]:
    """`n` live users of the café, each with a session open since an hour before `now`."""
    ids = []
    for i in range(n):
        row = pg.execute(
            "INSERT INTO users (username, cafe_id, expires_at) VALUES (%s, %s, %s) RETURNING id",
            (f"{prefix}{i}", cafe, now + 24 * HOUR),
        ).fetchone()
        assert row is not None
        ids.append(row["id"])
        if session:
            pg.execute(
                "INSERT INTO user_sessions (user_id, started_at) VALUES (%s, %s)",
                (row["id"], now - HOUR),
            )
    return ids


def add_pokes(pg: Conn, users: list[UUID], n: int, at: datetime, text: str = "hi") -> None:
    for _ in range(n):
        pg.execute(
            "INSERT INTO pokes (from_user_id, to_user_id, message, expires_at, created_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (users[0], users[1], text, at + HOUR, at),
        )


def add_message(pg: Conn, user: UUID, at: datetime, content: str = "hello") -> None:
    pg.execute(
        "INSERT INTO messages (user_id, content, created_at) VALUES (%s, %s, %s)",
        (user, content, at),
    )


def posts(pg: Conn, cafe: UUID | None = None) -> list[dict[str, Any]]:
    where, params = ("WHERE cafe_id = %s", (cafe,)) if cafe else ("", ())
    return pg.execute(
        # created_at as an instant also on the original's schema (a naive column there)
        "SELECT id, cafe_id, message_type, content, context_data,"
        f" created_at::timestamptz AS created_at FROM agent_messages {where} ORDER BY created_at",
        params,
    ).fetchall()


class Connector:
    """A connection source for a job's worker threads: a fresh real connection each time (the
    daemon passes its pool; tests need nothing to close afterwards)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Conn]:
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            yield conn


def make_ctx(
    conn: Conn,
    cache: Redis,
    now: datetime,
    *,
    claude: Any = None,
    node: str = "test-node:1",
    **proactive: Any,
) -> JobContext:
    settings = ProactiveConfig(**{"enabled": True, **proactive})
    return JobContext(
        conn=conn,
        cache=cache,
        config=Config(proactive=settings),
        now=now,
        log=logger,
        claude=claude,
        db=Connector(conn.info.dsn),
        node=node,
    )


def writer_for(base_url: str, **settings: Any) -> ClaudeWriter:
    config = ProactiveConfig(
        **{"api_key": "sk-ant-test-SECRET42", "base_url": base_url, "max_retries": 0, **settings}
    )
    writer = make_claude(config)
    assert writer is not None
    WRITERS.append(writer)
    return writer


WRITERS: list[ClaudeWriter] = []  # closed after each test (conftest), so no socket is left open


def close_writers() -> None:
    while WRITERS:
        WRITERS.pop().close()


@contextmanager
def private_redis(tmp: Path) -> Iterator[redis.Redis]:
    """A redis-server of our own on a Unix socket, so a test may FLUSHALL without touching the
    shared server's other databases."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is needed on PATH for this test"
    sock = tmp / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(tmp)],
        stdout=subprocess.PIPE,
        text=True,
    )
    client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
    try:
        _wait_ready(proc)
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    # The server's own log line is the event: readline returns it, or "" if the server died.
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready to accept connections" in line.lower():
            return
    raise AssertionError(f"redis-server exited with {proc.wait()} before it was ready")


def dead_redis() -> Redis:
    """A client for a port where nothing listens: every command fails at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # brewd's own client, retries and all, so the test pays what production would.
    return make_client(RedisConfig(url=f"redis://127.0.0.1:{port}/0", socket_timeout=1.0))
