"""Job benchmark: every data job against its lower bound (tests/bench/bounds.py), at several scales.

    .venv/bin/python -m tests.bench.bench_jobs [--scales 10000,100000,1000000] [--repeat 3]
        [--messages-per-user 10] [--jobs expireUsers,expirePokes] [--batch-size 5000]

Worlds have users // 1,000 cafés (10 to 10,000), 3 sessions and --messages-per-user
messages per user: 10,000,000 users is the issue's 10,000 cafés / 30M sessions / 100M messages.

For each scale it generates a world (brewd.demo.worldgen) into a scratch database it creates and
drops, then times each job through its module with a real JobContext (Redis included), and,
on an identical fresh copy (CREATE DATABASE ... TEMPLATE), the single statement of its bound.
Each figure is the best of --repeat runs, each on a fresh copy. Then the scaling check: 1,000
users expiring among the smallest and among the largest world.
Servers: BREWD_BENCH_PG_DSN (admin DSN, default the local postgres) and BREWD_BENCH_REDIS_URL
(default redis://127.0.0.1:6379/14, flushed at the end).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import psycopg
from loguru import logger
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.adapters.cache import make_client
from brewd.core.config import Config, DatabaseConfig, RedisConfig
from brewd.db import migrate
from brewd.demo import worldgen
from brewd.jobs import ALL_JOBS
from brewd.jobs.base import JobContext
from tests.bench.bounds import BOUNDS, Conn
from tests.bench.job_targets import misses
from tests.bench.plans import check_plans

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
JOBS = ("expireUsers", "expireBadges", "expirePokes", "calculateBadges", "aggregateAnalytics")
BATCH_SIZE = DatabaseConfig().batch_size
EXPIRING = 1_000  # users expiring in the scaling check
Expiring = tuple[tuple[int, float], tuple[int, float]]  # (rows, s) with Redis, without


@dataclass(frozen=True)
class Figure:
    job: str
    users: int
    rows: int
    job_s: float
    db_s: float  # the job with Redis unreachable: its cache steps fail at once and are skipped
    bound_s: float | None


class Scratch:
    """Scratch databases on the benchmark's server, named after this process, all dropped."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"brewd_bench_{os.getpid()}"
        self.made: list[str] = []

    def dsn(self, name: str) -> str:
        return make_conninfo(self.admin_dsn, dbname=name)

    def create(self, name: str, template: str | None = None) -> str:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:  # a file copy: no WAL for every block of a multi-gigabyte template
            statement += sql.SQL(" TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(template))
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(statement)
        self.made.append(name)
        return self.dsn(name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if name in self.made:
            self.made.remove(name)

    @contextmanager
    def copy(self, template: str) -> Iterator[Conn]:
        """A connection to a fresh copy of `template`, dropped afterwards."""
        name = f"{self.prefix}_copy"
        self.create(name, template)
        try:
            with psycopg.connect(self.dsn(name), autocommit=True, row_factory=dict_row) as conn:
                yield conn
        finally:
            self.drop(name)


def world_name(users: int, messages_per_user: int) -> str:
    """The name a kept world has: the same arguments always give the same rows."""
    return f"brewd_bench_world_{users}_{messages_per_user}"


def kept_world(scratch: Scratch, name: str) -> bool:
    """Whether a world kept by an earlier run is there, whole (a world is generated in one
    transaction, so a database with cafés is complete; an empty one is dropped and redone)."""
    with psycopg.connect(scratch.admin_dsn, autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if not found:
        return False
    with psycopg.connect(scratch.dsn(name), autocommit=True) as conn:
        migrated = conn.execute("SELECT to_regclass('cafes') IS NOT NULL").fetchone() == (True,)
        whole = migrated and conn.execute("SELECT EXISTS (SELECT FROM cafes)").fetchone() == (True,)
    if whole:
        return True
    scratch.drop(name)
    return False


def make_world(scratch: Scratch, users: int, messages_per_user: int, keep: bool) -> str:
    """Generate a world into a scratch database; with `keep`, under a fixed name, reused by the
    next run (a 10M world takes most of an hour to build) and never dropped by this one."""
    name = world_name(users, messages_per_user) if keep else f"{scratch.prefix}_w{users}"
    if keep and kept_world(scratch, name):
        with psycopg.connect(scratch.dsn(name), autocommit=True, row_factory=dict_row) as conn:
            plans = check_plans(conn, NOW)
        print(f"world {users:,} users: reusing the kept database {name}", flush=True)
        print(f"  plans: {plans}", flush=True)
        return name
    cafes = min(10_000, max(10, users // 1_000))
    dsn = scratch.create(name)
    if keep:
        scratch.made.remove(name)  # survives this run, even a failed one
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
        migrate.apply(conn)
        stats = worldgen.generate(
            conn,
            users=users,
            cafes=cafes,
            now=NOW,
            messages_per_user=messages_per_user,
            progress=lambda line: print(f"  {line}", flush=True),
        )
        plans = check_plans(conn, NOW)
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database())) AS s")
        disk = size.fetchone()
    print(
        f"world {users:,} users, {cafes:,} cafés: {stats.sessions:,} sessions, "
        f"{stats.pokes:,} pokes, {stats.messages:,} messages, generated in {stats.seconds} s, "
        f"{disk['s'] if disk else '?'} on disk; "
        f"due: {stats.users_due:,} users, {stats.badges_due:,} badges, "
        f"{stats.pokes_due:,} pokes, {stats.pokes_purgeable:,} to purge",
        flush=True,
    )
    print(f"  plans: {plans}", flush=True)
    return name


def context(conn: Conn, redis_url: str, now: datetime, batch_size: int = BATCH_SIZE) -> JobContext:
    cache = make_client(RedisConfig(url=redis_url))
    config = Config(database=DatabaseConfig(batch_size=batch_size))
    return JobContext(conn=conn, cache=cache, config=config, now=now, log=logger)


def best(repeat: int, once: Callable[[], tuple[int, float]]) -> tuple[int, float]:
    runs = [once() for _ in range(repeat)]
    return runs[0][0], min(seconds for _, seconds in runs)


def time_job(
    scratch: Scratch, world: str, job: str, redis_url: str, batch_size: int
) -> tuple[int, float]:
    with scratch.copy(world) as conn:
        ctx = context(conn, redis_url, NOW, batch_size)
        started = time.perf_counter()
        result = ALL_JOBS[job].run(ctx)
        return result.affected_records, time.perf_counter() - started


def time_bound(scratch: Scratch, world: str, job: str) -> tuple[int, float]:
    with scratch.copy(world) as conn:
        started = time.perf_counter()
        rows = BOUNDS[job](conn, NOW)
        return rows, time.perf_counter() - started


def bench_scale(scratch: Scratch, world: str, users: int, args: argparse.Namespace) -> list[Figure]:
    figures = []
    for job in args.jobs:
        if job not in ALL_JOBS:
            print(f"  {job}: not registered, skipped", flush=True)
            continue
        timed = partial(time_job, scratch, world, job, batch_size=args.batch_size)
        rows, job_s = best(args.repeat, partial(timed, args.redis_url))
        _, db_s = best(args.repeat, partial(timed, unreachable_redis()))
        bound_s = None
        if job in BOUNDS:
            bound_rows, bound_s = best(args.repeat, partial(time_bound, scratch, world, job))
            if bound_rows != rows:
                print(f"  {job}: job changed {rows:,} rows, its bound {bound_rows:,}", flush=True)
        figures.append(Figure(job, users, rows, job_s, db_s, bound_s))
        print(f"  {format_figure(figures[-1])}", flush=True)
    return figures


def time_expiring(scratch: Scratch, world: str, redis_url: str) -> tuple[int, float]:
    """expireUsers when EXPIRING users are due: the backlog is expired first (as the previous
    hourly run would have) and vacuumed, then `now` is set to the EXPIRING-th next expiry."""
    with scratch.copy(world) as conn:
        ALL_JOBS["expireUsers"].run(context(conn, redis_url, NOW))
        conn.execute("VACUUM (ANALYZE) users, user_sessions")
        row = conn.execute(
            "SELECT expires_at FROM users WHERE is_active ORDER BY expires_at OFFSET %s LIMIT 1",
            (EXPIRING - 1,),
        ).fetchone()
        assert row is not None, "the world is too small for the scaling check"
        ctx = context(conn, redis_url, row["expires_at"])
        started = time.perf_counter()
        result = ALL_JOBS["expireUsers"].run(ctx)
        return result.affected_records, time.perf_counter() - started


def unreachable_redis() -> str:
    """A Redis URL where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def format_figure(f: Figure) -> str:
    if f.bound_s is None:
        return f"{f.job:<19}{f.users:>10,}{f.rows:>10,}{f.job_s:>9.3f}{f.db_s:>9.3f}"
    return (
        f"{f.job:<19}{f.users:>10,}{f.rows:>10,}{f.job_s:>9.3f}{f.db_s:>9.3f}"
        f"{f.bound_s:>9.3f}{f.job_s / f.bound_s:>7.2f}x{f.db_s / f.bound_s:>7.2f}x"
    )


def print_table(figures: list[Figure]) -> None:
    print("\njob                     users      rows    job s     db s  bound s  ratio db ratio")
    for figure in figures:
        print(format_figure(figure))
    missed = [line for figure in figures for line in misses(figure)]
    print("\ntargets: " + ("all met" if not missed else f"{len(missed)} missed"))
    for line in missed:
        print(f"  {line}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (it runs the jobs as the daemon does): {peak:.0f} MB")


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """--pg-dsn and --redis-url, defaulting to BREWD_BENCH_PG_DSN and BREWD_BENCH_REDIS_URL."""
    parser.add_argument(
        "--pg-dsn", default=os.environ.get("BREWD_BENCH_PG_DSN", "host=127.0.0.1 user=postgres")
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BREWD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_jobs", description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10000,100000,1000000", help="users per world")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts")
    parser.add_argument("--messages-per-user", type=int, default=10, help="world shape")
    parser.add_argument("--jobs", default=",".join(JOBS), help="which jobs to time")
    parser.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, help="database.batch_size of the jobs timed"
    )
    parser.add_argument(
        "--keep-worlds",
        action="store_true",
        help="keep each world as brewd_bench_world_<users>_<messages per user> and reuse a "
        "kept one (drop it by hand when done)",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="build (and keep) the worlds, time nothing"
    )
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    args.scales = sorted(int(scale) for scale in args.scales.split(","))
    args.jobs = [job for job in JOBS if job in args.jobs.split(",")]
    if args.generate_only:
        args.keep_worlds = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logger.remove()
    logger.add(sys.stderr, level="ERROR")  # the Redis-unreachable runs warn by design
    scratch = Scratch(args.pg_dsn)
    figures: list[Figure] = []
    expiring: dict[int, Expiring] = {}
    try:
        for users in args.scales:
            world = make_world(scratch, users, args.messages_per_user, args.keep_worlds)
            if args.generate_only:
                continue
            figures += bench_scale(scratch, world, users, args)
            checked = [scale for scale in args.scales if scale >= 10 * EXPIRING]
            if checked and users in (checked[0], checked[-1]):
                expiring[users] = (
                    best(args.repeat, partial(time_expiring, scratch, world, args.redis_url)),
                    best(args.repeat, partial(time_expiring, scratch, world, unreachable_redis())),
                )
            if not args.keep_worlds:
                scratch.drop(world)
    finally:
        for name in list(scratch.made):
            scratch.drop(name)
        make_client(RedisConfig(url=args.redis_url)).flushdb()
    print_table(figures)
    print_scaling(expiring)
    return 0


def print_scaling(expiring: dict[int, Expiring]) -> None:
    print(f"\nscaling: expireUsers with {EXPIRING:,} users due")
    for users, ((rows, seconds), (_, db_seconds)) in sorted(expiring.items()):
        print(
            f"  among {users:>10,} users: {rows:,} expired in {seconds:.3f} s "
            f"({db_seconds:.3f} s with Redis unreachable)"
        )
    if len(expiring) == 2:
        small, large = (expiring[k] for k in sorted(expiring))
        print(
            f"  largest / smallest: {large[0][1] / small[0][1]:.2f}x, "
            f"with Redis unreachable {large[1][1] / small[1][1]:.2f}x (target at most 2x)"
        )


if __name__ == "__main__":
    sys.exit(main())
