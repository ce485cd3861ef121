"""Adoption benchmark: `brewd db init` on a 1M-user database of the original schema, live.

    .venv/bin/python -m tests.bench.bench_adopt [--users 1000000] [--cafes 200]

Builds a scratch database with the original scheduler's schema (tests/legacy_schema.py) in
America/New_York, fills it set-based (users, one session each but every tenth user none,
badges with 1% duplicate actives, pokes, messages, 30 days of the original's analytics rows,
agent messages), then runs `brewd db init` as a subprocess while one probe thread per API
table reads and writes it the way the API servers do (a read by key and an insert or update,
each its own transaction). Prints the adoption time, each step's duration, and per table the
probe's longest wait and its operation count, before (baseline) and during the adoption.
Server: BREWD_BENCH_PG_DSN (admin DSN, default the local postgres). The database is dropped.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.legacy_schema import create_original_schema

ZONE = "America/New_York"
ADMIN = os.environ.get(
    "BREWD_BENCH_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
Conn = psycopg.Connection[Any]

FILL = [
    """INSERT INTO cafes (id, name, location, enable_proactive_messages, created_at)
       SELECT md5('c' || c)::uuid, 'Café ' || c, 'City ' || c %% 17, c %% 3 = 0,
              now() - interval '400 days'
       FROM generate_series(0, %(cafes)s - 1) AS c""",
    """INSERT INTO users (id, username, cafe_id, expires_at, is_active, created_at)
       SELECT md5('u' || i)::uuid, 'guest' || i, md5('c' || i %% %(cafes)s)::uuid,
              now() + (i %% 720 - 72) * interval '1 hour', i %% 10 <> 0,
              now() - (i %% 2000) * interval '1 hour'
       FROM generate_series(0, %(users)s - 1) AS i""",
    """INSERT INTO user_sessions (user_id, started_at, ended_at, created_at)
       SELECT md5('u' || i)::uuid, now() - (i %% 2000) * interval '1 hour',
              CASE WHEN i %% 7 = 0 THEN NULL
                   ELSE now() - (i %% 2000) * interval '1 hour' + interval '40 minutes' END,
              now() - (i %% 2000) * interval '1 hour'
       FROM generate_series(0, %(users)s - 1) AS i WHERE i %% 10 <> 3""",
    """INSERT INTO badges (user_id, type, name, expires_at, is_active, created_at)
       SELECT md5('u' || i)::uuid, (ARRAY['EARLY_BIRD', 'NIGHT_OWL'])[1 + i %% 2], 'badge',
              now() + interval '3 days', true, now() - (i %% 100) * interval '1 hour'
       FROM generate_series(0, %(users)s - 1, 4) AS i""",
    # 1%% of those users got the same badge type a second time (the original double-awards)
    """INSERT INTO badges (user_id, type, name, expires_at, is_active, created_at)
       SELECT md5('u' || i)::uuid, (ARRAY['EARLY_BIRD', 'NIGHT_OWL'])[1 + i %% 2], 'badge',
              now() + interval '4 days', true, now() - (i %% 100) * interval '1 hour'
                                                 + interval '1 day'
       FROM generate_series(0, %(users)s - 1, 400) AS i""",
    """INSERT INTO pokes (from_user_id, to_user_id, expires_at, created_at)
       SELECT md5('u' || i)::uuid, md5('u' || (i + %(cafes)s) %% %(users)s)::uuid,
              now() + (i %% 48 - 24) * interval '1 hour', now() - (i %% 500) * interval '1 hour'
       FROM generate_series(0, %(users)s - 1) AS i""",
    """INSERT INTO messages (user_id, content, created_at)
       SELECT md5('u' || i)::uuid, 'hello ' || i, now() - (i %% 500) * interval '1 hour'
       FROM generate_series(0, %(users)s - 1) AS i""",
    """INSERT INTO analytics (cafe_id, date, hour, total_users, active_users)
       SELECT md5('c' || c)::uuid, current_date - d, h, 10, 5
       FROM generate_series(0, %(cafes)s - 1) AS c, generate_series(0, 29) AS d,
            generate_series(0, 23) AS h""",
    """INSERT INTO agent_messages (cafe_id, message_type, content, created_at)
       SELECT md5('c' || c %% %(cafes)s)::uuid, 'PROACTIVE', 'hi', now() - c * interval '2 min'
       FROM generate_series(0, 20 * %(cafes)s) AS c""",
    "VACUUM ANALYZE",
]

# Per API table, what its API server does: a read by key, then a write (its own transaction).
PROBES: dict[str, tuple[str, str]] = {
    "cafes": (
        "SELECT * FROM cafes WHERE id = md5('c' || %(i)s %% 200)::uuid",
        "UPDATE cafes SET name = name WHERE id = md5('c' || %(i)s %% 200)::uuid",
    ),
    "users": (
        "SELECT * FROM users WHERE id = md5('u' || %(i)s)::uuid",
        "INSERT INTO users (username, cafe_id, expires_at) VALUES"
        " ('probe' || %(i)s || '_' || pg_backend_pid(), md5('c1')::uuid, now() + interval '1 day')",
    ),
    "user_sessions": (
        "SELECT * FROM user_sessions WHERE user_id = md5('u' || %(i)s)::uuid",
        "INSERT INTO user_sessions (user_id) VALUES (md5('u' || %(i)s)::uuid)",
    ),
    "badges": (
        "SELECT * FROM badges WHERE user_id = md5('u' || %(i)s)::uuid AND is_active",
        "UPDATE badges SET name = name WHERE user_id = md5('u' || %(i)s * 4)::uuid",
    ),
    "pokes": (
        "SELECT * FROM pokes WHERE to_user_id = md5('u' || %(i)s)::uuid",
        "INSERT INTO pokes (from_user_id, to_user_id, expires_at) VALUES"
        " (md5('u' || %(i)s)::uuid, md5('u' || %(i)s + 1)::uuid, now() + interval '1 day')",
    ),
    "messages": (
        "SELECT * FROM messages WHERE user_id = md5('u' || %(i)s)::uuid",
        "INSERT INTO messages (user_id, content) VALUES (md5('u' || %(i)s)::uuid, 'probe')",
    ),
    "analytics": (
        "SELECT * FROM analytics WHERE cafe_id = md5('c1')::uuid AND date = current_date",
        "SELECT count(*) FROM analytics WHERE date = current_date",
    ),
    "agent_messages": (
        "SELECT * FROM agent_messages WHERE cafe_id = md5('c1')::uuid"
        " ORDER BY created_at DESC LIMIT 5",
        "INSERT INTO agent_messages (cafe_id, message_type, content)"
        " VALUES (md5('c1')::uuid, 'PROACTIVE', 'probe')",
    ),
}


@dataclass
class Probe:
    table: str
    longest: float = 0.0
    ops: int = 0
    errors: list[str] = field(default_factory=list)


def _probe(dsn: str, probe: Probe, stop: threading.Event, users: int) -> None:
    read, write = PROBES[probe.table]
    # prepare_threshold=None: unnamed statements, as node-postgres sends the API's queries.
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        i = 0
        while not stop.is_set():
            i = (i + 7919) % (users - 2)
            for statement in (read, write):
                started = time.monotonic()
                try:
                    conn.execute(statement, {"i": i})
                except psycopg.Error as exc:
                    probe.errors.append(str(exc).splitlines()[0])
                probe.longest = max(probe.longest, time.monotonic() - started)
                probe.ops += 1


@contextmanager
def probing(dsn: str, users: int) -> Iterator[list[Probe]]:
    stop = threading.Event()
    probes = [Probe(table) for table in PROBES]
    threads = [
        threading.Thread(target=_probe, args=(dsn, p, stop, users), daemon=True) for p in probes
    ]
    for thread in threads:
        thread.start()
    try:
        yield probes
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def _timed(what: str, func: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = func()
    print(f"{what}: {time.monotonic() - started:.1f} s", flush=True)
    return result


def build(dsn: str, users: int, cafes: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        create_original_schema(conn, ZONE)
        params = {"users": users, "cafes": cafes}
        for statement in FILL[:-1]:
            first = " ".join(statement.split())[:60]
            _timed(f"  {first}", functools.partial(conn.execute, statement, params))
        conn.execute(FILL[-1])
        for table in PROBES:
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            print(f"  {table}: {row[0] if row else 0} rows")


def adopt(dsn: str) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "brewd", "db", "init", "--config", "/dev/null"],
        env={**os.environ, "DATABASE_URL": dsn, "LOG_LEVEL": "warning"},
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"db init failed ({done.returncode}): {done.stderr.strip()}")
    return took, done.stdout


def report(title: str, probes: list[Probe], seconds: float) -> None:
    print(f"\n{title} ({seconds:.1f} s)")
    print(f"  {'table':<16}{'longest wait':>14}{'operations':>12}{'errors':>8}")
    for p in probes:
        print(f"  {p.table:<16}{p.longest * 1000:>11.0f} ms{p.ops:>12}{len(p.errors):>8}")
        for error in sorted(set(p.errors))[:3]:
            print(f"      {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--cafes", type=int, default=200)
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds of probing before")
    args = parser.parse_args()
    name = f"brewd_bench_adopt_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET TimeZone = {}").format(
                sql.Identifier(name), sql.Literal(ZONE)
            )
        )
    dsn = make_conninfo(ADMIN, dbname=name)
    try:
        print(f"building an original-schema database: {args.users} users, {args.cafes} cafés")
        _timed("build", lambda: build(dsn, args.users, args.cafes))
        with probing(dsn, args.users) as probes:
            time.sleep(args.baseline)  # the baseline: the probes alone, for comparison
        report("baseline, no adoption", probes, args.baseline)
        with probing(dsn, args.users) as probes:
            took, output = adopt(dsn)
        print("\n`brewd db init` output:")
        print("".join(f"  {line}\n" for line in output.splitlines()), end="")
        report(f"during adoption: brewd db init took {took:.1f} s", probes, took)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main()
