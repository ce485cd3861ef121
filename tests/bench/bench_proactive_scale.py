"""Benchmark proactiveMessages at scale: 10,000 eligible cafés, the fake Claude API answering in
500 ms, 1 node and 4 node processes on one database, one shared budget, one node SIGKILLed.

Run: .venv/bin/python -m tests.bench.bench_proactive_scale [--cafes N] [--delay S]
     [--concurrency C] [--rpm R] [--scenarios 1,4,4kill]
Targets: with 4 nodes every café done within the 2-minute slot; each café posted at most once;
the budget never exceeded in any minute, as counted at the fake API; with a node SIGKILLed
mid-slot, no café doubled. Each node is `python -m tests.integration.jobs.proactive_node` (the
real Runner, pool, ledger and writer). Uses a throwaway database on BREWD_TEST_PG_DSN and the
Redis database of BREWD_TEST_REDIS_URL.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.adapters import cache as keys
from brewd.db import migrate
from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.fix_pg import DEFAULT_ADMIN_DSN
from tests.fix_redis import DEFAULT_URL
from tests.helpers import wait_until
from tests.integration.jobs.proactive_nodes import NodeProcess, duo_cafes, go, node_processes

DB = "brewd_bench_proactive_scale"
Conn = psycopg.Connection[dict[str, Any]]
NOW = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)  # every café's trigger is "duo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cafes", type=int, default=10_000)
    parser.add_argument("--delay", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=16, help="per node")
    parser.add_argument("--rpm", type=int, default=6_000, help="the budget, all nodes")
    parser.add_argument("--scenarios", default="4,4kill,1")
    args = parser.parse_args()
    admin_dsn = os.environ.get("BREWD_TEST_PG_DSN") or DEFAULT_ADMIN_DSN
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB))
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB)))
        try:
            _bench(make_conninfo(admin_dsn, dbname=DB), args)
        finally:
            admin.execute(drop)


def _bench(dsn: str, args: argparse.Namespace) -> None:
    redis_url = os.environ.get("BREWD_TEST_REDIS_URL") or DEFAULT_URL
    cache = redis.Redis.from_url(redis_url)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as pg:
        migrate.apply(pg)
        started = time.monotonic()
        duo_cafes(pg, args.cafes, NOW)
        pg.execute("ANALYZE")
        print(f"world: {args.cafes} eligible cafés in {time.monotonic() - started:.1f} s")
        for number, scenario in enumerate(args.scenarios.split(",")):
            _reset(pg, cache)
            slot = NOW + timedelta(minutes=2 * number)  # each run its own slot
            with FakeClaudeAPI(Reply(delay=args.delay)) as fake:
                figures = _scenario(pg, dsn, redis_url, fake, slot, scenario, args)
            print(figures, flush=True)


def _reset(pg: Conn, cache: redis.Redis) -> None:
    """A fresh slot: no messages (so no rate limit holds a café back), an empty budget."""
    pg.execute("TRUNCATE agent_messages, proactive_rounds, proactive_work, job_runs")
    cache.delete(keys.PROACTIVE_BUDGET, keys.PROACTIVE_PAUSE)


def _scenario(
    pg: Conn,
    dsn: str,
    redis_url: str,
    fake: FakeClaudeAPI,
    slot: datetime,
    scenario: str,
    args: argparse.Namespace,
) -> str:
    count = int(scenario.removesuffix("kill"))
    options = {
        "dsn": dsn,
        "redis": redis_url,
        "base_url": fake.base_url,
        "slot": slot.isoformat(),
        "concurrency": args.concurrency,
        "rpm": args.rpm,
        "nodes": count,
    }
    killed = ""
    with node_processes(count, **options) as nodes:
        started = time.monotonic()
        go(nodes)
        if scenario.endswith("kill"):
            killed = _kill_one(pg, fake, nodes, after=max(2, args.cafes // 20))
        for node in nodes:
            if node.process.returncode is None:
                node.process.wait(600)
        wall = time.monotonic() - started
    return _figures(pg, fake, scenario, wall, killed, args)


def _kill_one(pg: Conn, fake: FakeClaudeAPI, nodes: list[NodeProcess], after: int) -> str:
    """SIGKILL a node other than the claimer once it has done `after` cafés and has calls out."""
    claimer = wait_until(lambda: _claimer(pg), 120, "the claim")
    victim = next(n for n in nodes if n.name != claimer)

    def in_flight() -> bool:
        calls = sum(1 for h in list(fake.headers) if h.get("x-test-node") == victim.name)
        return _done_by(pg).get(victim.name, 0) >= after and calls > _done_by(pg)[victim.name]

    wait_until(in_flight, 300, "the victim at work")
    done = _done_by(pg)[victim.name]
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait(10)
    return f"; SIGKILLed {victim.name} after {done} cafés with calls in flight"


def _claimer(pg: Conn) -> str | None:
    """The node running the slot (a node that found the lock taken may have written a
    'skipped' row first, which the claimer then takes over)."""
    row = pg.execute(
        "SELECT node FROM job_runs WHERE job = 'proactiveMessages' AND status = 'running'"
    ).fetchone()
    return row["node"] if row else None


def _done_by(pg: Conn) -> dict[str, int]:
    rows = pg.execute(
        "SELECT node, count(*) AS n FROM proactive_work WHERE state = 'done' GROUP BY node"
    ).fetchall()
    return {r["node"]: r["n"] for r in rows}


def _figures(
    pg: Conn, fake: FakeClaudeAPI, scenario: str, wall: float, killed: str, args: argparse.Namespace
) -> str:
    posts = pg.execute(
        "SELECT count(*) AS cafes, coalesce(max(n), 0) AS most FROM"
        " (SELECT cafe_id, count(*) AS n FROM agent_messages GROUP BY cafe_id) t"
    ).fetchone()
    run = pg.execute(
        "SELECT status, affected_records, coalesce(message, error) AS message,"
        " coalesce(extract(epoch FROM finished_at - started_at), -1) AS run_s"
        " FROM job_runs WHERE job = 'proactiveMessages' ORDER BY started_at NULLS LAST LIMIT 1"
    ).fetchone()
    assert posts is not None
    assert run is not None
    minutes = fake.per_minute()
    busiest = fake.busiest_window(60)
    shares = sorted(_done_by(pg).values(), reverse=True)
    return (
        f"[{scenario}] wall {wall:.1f} s, run {run['run_s']:.1f} s ({run['status']}); "
        f"cafés posted {posts['cafes']} of {args.cafes}, most posts for one café {posts['most']} "
        f"({'none doubled' if posts['most'] <= 1 else 'DOUBLED'}); "
        f"API calls {fake.calls}, busiest calendar minute {max(minutes.values(), default=0)}, "
        f"busiest 60 s window {busiest} (budget {args.rpm}: "
        f"{'never exceeded' if busiest <= args.rpm else 'EXCEEDED'}); "
        f"cafés per node {shares}{killed}\n    run message: {run['message']}"
    )


if __name__ == "__main__":
    main()
