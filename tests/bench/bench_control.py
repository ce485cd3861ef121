"""Benchmark: GET /api/scheduler/status over the Unix socket, 50 concurrent clients, while a job
runs. Target: at least 2,000 requests/s, p99 under 25 ms.

    .venv/bin/python -m tests.bench.bench_control [--clients 50] [--seconds 5]

The server runs in a child process (tests/bench/control_servers.py; as in production, the
clients do not share its CPU time or GIL): a real Scheduler with its loop, its SchedulerControl
port and the ControlThread, on a fresh migrated PostgreSQL database (BREWD_TEST_PG_DSN) and
Redis (BREWD_TEST_REDIS_URL). expirePokes is replaced by a job that holds a database connection
in pg_sleep, so it is "running" for the whole measurement. The clients are raw asyncio streams
on keep-alive connections, then with a new connection per request (what brewctl does). Last,
the same clients run against a bare asyncio server answering the same bytes: the noise floor
of this machine and of the clients themselves, printed beside the daemon's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.cli.client import ControlClient
from brewd.db import migrate

ADMIN_DSN = os.environ.get("BREWD_TEST_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
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


# -- the orchestrator ------------------------------------------------------------------------
def baseline(directory: str, body: bytes, clients: int, seconds: float) -> dict[str, Any]:
    path, body_file = os.path.join(directory, "floor.sock"), os.path.join(directory, "body")
    with open(body_file, "wb") as f:
        f.write(body)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.control_servers", "floor", path, body_file],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "READY"
        return _timed_load(child.pid, path, clients, seconds, oneshot=False)
    finally:
        child.stdin.close()
        child.wait(30)
        for leftover in (path, body_file):
            os.unlink(leftover) if os.path.exists(leftover) else None


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


def _against_the_daemon(
    directory: str, dsn: str, clients: int, seconds: float
) -> tuple[dict[str, dict[str, Any]], bytes, str]:
    """Both load patterns against the server child; also its status body and call count."""
    path = os.path.join(directory, "brewd.sock")
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.control_servers", "daemon", path, dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
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
        body = ControlClient(path).request("GET", "/api/scheduler/status").raw
        child.stdin.write("calls\n")
        child.stdin.flush()
        return results, body, child.stdout.readline().split()[1]
    finally:
        child.stdin.close()
        child.wait(30)


def measure(clients: int, seconds: float) -> None:
    name, dsn = _database()
    directory = tempfile.mkdtemp(prefix="bb", dir="/tmp")
    try:
        results, body, calls = _against_the_daemon(directory, dsn, clients, seconds)
        answered = sum(r["requests"] for r in results.values())
        floor = baseline(directory, body, clients, seconds)
    finally:
        _drop(name)
        shutil.rmtree(directory, ignore_errors=True)
    results["noise floor: the same bytes from a bare asyncio server"] = floor
    for label, result in results.items():
        print(_line(label, result, clients))
    print(f"  while expirePokes ran; {answered} answers came from {calls} scheduler status() calls")
    print(
        f"  target: >= 2,000 req/s, p99 < 25 ms; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs (a busy machine inflates the latencies)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    measure(args.clients, args.seconds)


if __name__ == "__main__":
    main()
