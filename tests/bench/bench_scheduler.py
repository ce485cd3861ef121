"""Benchmark: schedule lag (slot -> job start) of the real loop, and the idle daemon's CPU and RSS.

    .venv/bin/python -m tests.bench.bench_scheduler [--minutes 3] [--jobs 12] [--idle 60]

Needs PostgreSQL and Redis (BREWD_TEST_PG_DSN / BREWD_TEST_REDIS_URL, as the tests). Creates
and drops its own scratch database. Targets: p99 lag < 50 ms; idle CPU < 0.1 % of a core;
RSS < 60 MB.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.adapters.cache import make_client
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.core.clock import SystemClock
from brewd.core.config import Config, DatabaseConfig, JobConfig, RedisConfig, SchedulerConfig
from brewd.core.cron import Cron
from brewd.daemon import build_scheduler
from brewd.db import migrate
from brewd.jobs.base import JobContext, JobResult

ADMIN = os.environ.get(
    "BREWD_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
REDIS = os.environ.get("BREWD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Noop:
    def __init__(self, name: str) -> None:
        self.NAME = name

    def run(self, ctx: JobContext) -> JobResult:
        with ctx.batch() as conn:
            conn.execute("SELECT 1")
        return JobResult(0, "noop")


def scratch_db(name: str) -> str:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = make_conninfo(ADMIN, dbname=name)
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        migrate.apply(conn)
    return dsn


def drop_db(name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def measure_lag(dsn: str, minutes: int, count: int) -> list[float]:
    names = [f"bench{i:02d}" for i in range(count)]
    config = Config(
        database=DatabaseConfig(url=dsn, pool_min_size=count + 2, pool_max_size=count + 4),
        redis=RedisConfig(url=REDIS),
        scheduler=SchedulerConfig(workers=8),
        jobs={name: JobConfig(schedule=Cron("* * * * *")) for name in names},
    )
    db = Database(config.database)
    db.open(wait=True)
    scheduler = build_scheduler(
        config=config,
        db=db,
        cache=make_client(config.redis),
        jobs={n: Noop(n) for n in names},
        clock=SystemClock(),
        metrics=Metrics(),
        node="bench:1",
    )
    stop = threading.Event()
    loop = threading.Thread(target=scheduler.run, args=(stop,), daemon=True)
    loop.start()
    print(f"lag: {count} jobs at every minute for {minutes} min ...", flush=True)
    stop.wait(minutes * 60 + 2)
    stop.set()
    scheduler.wake()
    loop.join(10)
    scheduler.runner.shutdown(10)
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM started_at - slot) AS lag FROM job_runs"
            " WHERE trigger = 'schedule' AND status = 'succeeded'"
        ).fetchall()
    db.close()
    return [float(row["lag"]) for row in rows]


def measure_idle(dsn: str, seconds: int) -> tuple[float, float]:
    """CPU share of one core and RSS (MB) of `brewd run` over `seconds` once it has settled."""
    sock = os.path.join(tempfile.mkdtemp(prefix="brewd-bench-", dir="/tmp"), "s.sock")
    env = {**os.environ, "DATABASE_URL": dsn, "REDIS_URL": REDIS, "BREWD_CONTROL_SOCKET": sock}
    env.pop("NOTIFY_SOCKET", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "brewd", "run", "--config", "/dev/null"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        settle = threading.Event()
        deadline = time.monotonic() + 60
        while not os.path.exists(sock) and time.monotonic() < deadline:
            settle.wait(0.1)
        settle.wait(10)  # let the start-up catch-up runs finish
        before, started = cpu_seconds(process.pid), time.monotonic()
        settle.wait(seconds)
        used, elapsed = cpu_seconds(process.pid) - before, time.monotonic() - started
        return used / elapsed * 100, rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        line = next(line for line in handle if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--idle", type=int, default=60, help="seconds of idle measurement")
    args = parser.parse_args()
    name = f"brewd_bench_sched_{os.getpid()}"
    dsn = scratch_db(name)
    try:
        lags = measure_lag(dsn, args.minutes, args.jobs)
        cpu, rss = measure_idle(scratch_db(name + "_idle"), args.idle)
    finally:
        drop_db(name)
        drop_db(name + "_idle")
    ms = [lag * 1000 for lag in lags]
    print(
        f"schedule lag over {len(ms)} slots: p50 {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms  (target p99 < 50 ms)"
    )
    print(
        f"idle daemon over {args.idle} s: CPU {cpu:.3f} % of a core (target < 0.1 %), "
        f"RSS {rss:.1f} MB (target < 60 MB)"
    )


if __name__ == "__main__":
    main()
