"""Benchmark proactiveMessages: 1,000 eligible cafés, the fake Claude API answering in 500 ms.

Run: .venv/bin/python -m tests.bench.bench_proactive [--cafes N] [--delay S] [--concurrency C]
Target: wall time under 80 s at concurrency 8, and exactly one API call per posting café.
Uses a throwaway database on BREWD_TEST_PG_DSN and the Redis database of BREWD_TEST_REDIS_URL.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import psycopg
from loguru import logger
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.adapters import cache as keys
from brewd.adapters.cache import make_client
from brewd.core.config import RedisConfig
from brewd.db import migrate
from brewd.jobs.proactive import messages as proactive_messages
from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.fix_pg import DEFAULT_ADMIN_DSN
from tests.fix_redis import DEFAULT_URL
from tests.integration.jobs.proactive_world import make_ctx, writer_for

DB = "brewd_bench_proactive"
WORLD_SQL = """
WITH c AS (
    INSERT INTO cafes (name, enable_proactive_messages)
    SELECT 'Bench café ' || g, true FROM generate_series(1, %(n)s) g RETURNING id
), u AS (
    INSERT INTO users (username, cafe_id, expires_at)
    SELECT 'bench' || k, c.id, %(now)s + interval '1 day' FROM c, generate_series(1, 2) k
    RETURNING id
)
INSERT INTO user_sessions (user_id, started_at) SELECT id, %(now)s - interval '1 hour' FROM u
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cafes", type=int, default=1_000)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    admin_dsn = os.environ.get("BREWD_TEST_PG_DSN") or DEFAULT_ADMIN_DSN
    logger.remove()  # one line of figures, not a warning per café
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        _recreate(admin)
        try:
            _bench(make_conninfo(admin_dsn, dbname=DB), args)
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB))
            )


def _recreate(admin: psycopg.Connection[tuple[object, ...]]) -> None:
    admin.execute(_drop())
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))


def _drop() -> sql.Composed:
    return sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB))


def _bench(dsn: str, args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    cache = make_client(RedisConfig(url=os.environ.get("BREWD_TEST_REDIS_URL") or DEFAULT_URL))
    with (
        psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn,
        FakeClaudeAPI(Reply(delay=args.delay)) as fake,
    ):
        migrate.apply(conn)
        conn.execute(WORLD_SQL, {"n": args.cafes, "now": now})
        writer = writer_for(fake.base_url, max_retries=1)
        ctx = make_ctx(conn, cache, now, claude=writer, concurrency=args.concurrency)
        started = time.monotonic()
        result = proactive_messages.run(ctx)
        wall = time.monotonic() - started
        writer.close()
        calls = fake.calls
        ids = [row["id"] for row in conn.execute("SELECT id FROM cafes")]
    cache.delete(*(keys.cafe_last_proactive_message(i) for i in ids))
    floor = args.cafes * args.delay / args.concurrency
    print(
        f"proactiveMessages: {args.cafes} cafés, API delay {args.delay * 1000:.0f} ms, "
        f"concurrency {args.concurrency}: wall {wall:.1f} s (floor {floor:.1f} s, target < 80 s); "
        f"API calls {calls} for {result.affected_records} posted "
        f"({'exactly one each' if calls == result.affected_records else 'MISMATCH'}); "
        f"{result.message}"
    )


if __name__ == "__main__":
    main()
