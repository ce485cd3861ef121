"""Benchmark: GET /api/scheduler/status over the Unix socket, 50 concurrent clients, while a job
runs. Target: at least 2,000 requests/s, p99 under 25 ms.

    .venv/bin/python -m tests.bench.bench_control [--clients 50] [--seconds 5]

The server runs in a child process (as in production, the clients do not share its CPU time
or GIL): a real Scheduler with its loop, its SchedulerControl port and the ControlThread, on a
fresh migrated PostgreSQL database (BREWD_TEST_PG_DSN) and Redis (BREWD_TEST_REDIS_URL).
expirePokes is replaced by a job that holds a database connection in pg_sleep, so it is
"running" for the whole measurement. The clients are raw asyncio streams, cheap enough that
they are not what is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.db import migrate

ADMIN_DSN = os.environ.get("BREWD_TEST_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
REDIS_URL = os.environ.get("BREWD_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
REQUEST = b"GET /api/scheduler/status HTTP/1.1\r\nHost: brewd\r\n\r\n"
ONE_SHOT = b"GET /api/scheduler/status HTTP/1.1\r\nHost: brewd\r\nConnection: close\r\n\r\n"
LENGTH = re.compile(rb"Content-Length: (\d+)", re.IGNORECASE)


async def _read_reply(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    match = LENGTH.search(head)
    body = await reader.readexactly(int(match.group(1))) if match else await reader.read()
    return head, body


async def _keepalive_client(path: str, until: float, out: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_unix_connection(path)
    try:
        while (start := time.perf_counter()) < until:
            writer.write(REQUEST)
            head, _ = await _read_reply(reader)
            out.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(head.split(b"\r\n", 1)[0].decode())
    finally:
        writer.close()


async def _oneshot_client(path: str, until: float, out: list[float], errors: list[str]) -> None:
    while (start := time.perf_counter()) < until:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(ONE_SHOT)
        head, _ = await _read_reply(reader)
        writer.close()
        out.append(time.perf_counter() - start)
        if not head.startswith(b"HTTP/1.1 200"):
            errors.append(head.split(b"\r\n", 1)[0].decode())


async def load(path: str, clients: int, seconds: float, oneshot: bool) -> dict[str, Any]:
    client = _oneshot_client if oneshot else _keepalive_client
    warm: list[float] = []
    await asyncio.gather(
        *(client(path, time.perf_counter() + 0.5, warm, []) for _ in range(clients))
    )
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(path, until, latencies, errors) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max_ms": latencies[-1] * 1000,
        "errors": len(errors),
    }


# -- the server child -------------------------------------------------------------------------
def serve(socket_path: str, dsn: str) -> None:
    from brewd.adapters.cache import make_client
    from brewd.adapters.pg import Database
    from brewd.clock import SystemClock
    from brewd.config import Config, ControlConfig, DatabaseConfig, RedisConfig
    from brewd.control.server import ControlThread
    from brewd.control.service import SchedulerControl
    from brewd.jobs import ALL_JOBS
    from brewd.jobs.base import JobContext, JobResult
    from brewd.metrics import Metrics
    from brewd.scheduler import Scheduler

    class HeldJob:
        """expirePokes stand-in: holds a pooled connection in pg_sleep until stopped."""

        NAME = "expirePokes"

        def run(self, ctx: JobContext) -> JobResult:
            while not ctx.should_stop():
                ctx.conn.execute("SELECT pg_sleep(0.2)")
            return JobResult(0, "held for the benchmark")

    config = Config(
        database=DatabaseConfig(url=dsn, pool_max_size=8),
        redis=RedisConfig(url=REDIS_URL),
        control=ControlConfig(socket=socket_path),
    )
    db = Database(config.database, application_name="brewd-bench")
    db.open(wait=True, timeout=10)
    scheduler = Scheduler(
        config=config,
        db=db,
        cache=make_client(config.redis),
        jobs=dict(ALL_JOBS) | {"expirePokes": HeldJob()},
        clock=SystemClock(),
        metrics=Metrics(),
        node="bench:1",
    )
    port = CountingPort(SchedulerControl(scheduler))
    control = ControlThread(port, scheduler.metrics, config.control)
    control.start(timeout=10)
    stop = threading.Event()
    loop = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    loop.start()
    scheduler.runner.trigger("expirePokes", requested_by="benchmark")
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "calls":
            print(f"CALLS {port.status_calls}", flush=True)
    stop.set()
    scheduler.wake()
    control.stop(timeout=5)
    scheduler.runner.shutdown(timeout=5)
    db.close()


class CountingPort:
    """Counts status() calls that reach the scheduler (to show what coalescing saves)."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.node = port.node
        self.status_calls = 0

    def status(self) -> dict[str, Any]:
        self.status_calls += 1
        result: dict[str, Any] = self._port.status()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


# -- the orchestrator ----------------------------------------------------------------------
def _database() -> tuple[str, str]:
    name = f"brewd_bench_{os.getpid()}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    dsn = make_conninfo(ADMIN_DSN, dbname=name)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        migrate.apply(conn)
    return name, dsn


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _status_running(path: str) -> bool:
    from brewd.control.client import ControlClient

    body = ControlClient(path).request("GET", "/api/scheduler/status").body
    return any(job["name"] == "expirePokes" and job["running"] for job in body["jobs"])


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed_load(pid: int, path: str, clients: int, seconds: float, oneshot: bool) -> dict[str, Any]:
    before = _cpu_seconds(pid)
    result = asyncio.run(load(path, clients, seconds, oneshot))
    # the warm-up's requests are not counted: a slight overestimate of the cost per request
    result["server_cpu_us"] = (_cpu_seconds(pid) - before) / result["requests"] * 1e6
    return result


def _line(label: str, r: dict[str, Any], clients: int) -> str:
    return (
        f"GET /api/scheduler/status, {clients} clients, {label}: {r['requests']} requests, "
        f"{r['rps']:,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
        f"max {r['max_ms']:.1f} ms, errors {r['errors']}, "
        f"server CPU {r['server_cpu_us']:.0f} us/request"
    )


def measure(clients: int, seconds: float) -> None:
    name, dsn = _database()
    directory = tempfile.mkdtemp(prefix="bb", dir="/tmp")
    path = os.path.join(directory, "brewd.sock")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_control", "--serve", path, "--dsn", dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdin is not None
        assert child.stdout is not None
        if child.stdout.readline().strip() != "READY":
            raise SystemExit("the benchmark server did not start")
        assert _status_running(path), "expirePokes should be running during the measurement"
        results = {
            "keep-alive": _timed_load(child.pid, path, clients, seconds, oneshot=False),
            "a new connection per request, like brewctl": _timed_load(
                child.pid, path, clients, seconds, oneshot=True
            ),
        }
        assert _status_running(path), "expirePokes stopped before the end of the measurement"
        child.stdin.write("calls\n")
        child.stdin.flush()
        calls = child.stdout.readline().split()[1]
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(30)
        _drop(name)
        os.rmdir(directory) if os.path.isdir(directory) and not os.listdir(directory) else None
    for label, result in results.items():
        print(_line(label, result, clients))
    total = sum(r["requests"] for r in results.values())
    print(f"  while expirePokes ran; {total} answers came from {calls} scheduler status() calls")
    print(
        f"  target: >= 2,000 req/s, p99 < 25 ms; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs (a busy machine inflates the latencies)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.dsn)
    else:
        measure(args.clients, args.seconds)


if __name__ == "__main__":
    main()
