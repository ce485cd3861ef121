"""Benchmark: the read-only TCP listener (http.listen) of a real `brewd run`, per route.

    .venv/bin/python -m tests.bench.bench_http [--clients 10] [--seconds 5] [--runs 1000]

A fresh migrated database (BREWD_TEST_PG_DSN) holds a full run history: `--runs` finished runs
per job (history.keep_runs is 1,000 by default, so that is the most a pruned database holds),
and the daemon (Redis: BREWD_TEST_REDIS_URL) listens on a free loopback port. For each route,
`--clients` keep-alive clients send requests for `--seconds`; printed: requests/s, p50 and p99
latency, and the answer's size. Status, health and the overview are reused for 0.5 s across
clients (control/calls.py), as on the socket.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.db import migrate
from brewd.jobs import ALL_JOBS
from tests.helpers import free_tcp_port, wait_until
from tests.reliability.daemon import DaemonProcess, daemon_env

ADMIN_DSN = os.environ.get("BREWD_TEST_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
REDIS_URL = os.environ.get("BREWD_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
ROUTES = ("/health", "/api/scheduler/status", "/metrics", "/", "/api/overview")
LENGTH = re.compile(rb"Content-Length: (\d+)", re.IGNORECASE)


def make_database(name: str, runs: int) -> str:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(ADMIN_DSN, dbname=name)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        migrate.apply(conn)
        for job in ALL_JOBS:  # one run per hour back in time, one failure in ten
            conn.execute(
                "INSERT INTO job_runs (job, slot, trigger, node, started_at, finished_at,"
                " status, affected_records, message, error)"
                " SELECT %s, date_trunc('hour', now()) - make_interval(hours => i + 2),"
                " 'schedule', 'bench:1', now() - make_interval(hours => i + 2),"
                " now() - make_interval(hours => i + 2) + interval '40 ms',"
                " CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'succeeded' END, i %% 7, 'done',"
                " CASE WHEN i %% 10 = 0 THEN 'OperationalError: bench' END"
                " FROM generate_series(1, %s) i",
                (job, runs),
            )
    return dsn


async def client(port: int, path: str, until: float, out: list[float], sizes: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    try:
        while (start := time.perf_counter()) < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = LENGTH.search(head)
            if match is None or not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:200]!r}")
            body = await reader.readexactly(int(match.group(1)))
            out.append(time.perf_counter() - start)
            sizes.append(len(body))
    finally:
        writer.close()


async def measure(port: int, path: str, clients: int, seconds: float) -> str:
    latencies: list[float] = []
    sizes: list[int] = []
    until = time.perf_counter() + seconds
    await asyncio.gather(*(client(port, path, until, latencies, sizes) for _ in range(clients)))
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return (
        f"{path:24} {len(latencies) / seconds:8.0f} req/s  p50 {p50:6.1f} ms  "
        f"p99 {p99:6.1f} ms  {max(sizes):7d} bytes"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    name = f"brewd_bench_http_{os.getpid()}"
    dsn = make_database(name, args.runs)
    port = free_tcp_port()
    env = daemon_env(DATABASE_URL=dsn, REDIS_URL=REDIS_URL, BREWD_HTTP_LISTEN=f"127.0.0.1:{port}")
    env["LOG_LEVEL"] = "warning"
    daemon = DaemonProcess(Path(tempfile.mkdtemp(prefix="brewd-bench-")), "", env, {})
    try:
        daemon.start()
        wait_until(lambda: daemon.request("GET", "/health").status == 200, 60, "a healthy daemon")
        print(f"{args.clients} keep-alive clients, {args.seconds:g} s per route, "
              f"{args.runs} runs per job in the history")  # fmt: skip
        for path in ROUTES:
            print(asyncio.run(measure(port, path, args.clients, args.seconds)), flush=True)
    finally:
        daemon.cleanup()
        with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
