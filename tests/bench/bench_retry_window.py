"""Measurement: the issue-20 scenario on a real database. A minute job whose table stays
locked by another session across its slots: when does each slot's run end, how many attempts
does it make, and does the next slot still run (no 'skipped: overlap')?

    .venv/bin/python -m tests.bench.bench_retry_window [--slots 2]

Each slot is fired at its real instant (a fake wall clock set to the slot, real monotonic
time), so every run has the full 60 s window. Needs PostgreSQL and Redis
(BREWD_TEST_PG_DSN / BREWD_TEST_REDIS_URL); creates and drops its own scratch database.
Target: every run is over, and the job free, before its next slot (measured: 4.1-4.3 s before).
"""

from __future__ import annotations

import argparse
import functools
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from brewd.adapters.cache import make_client
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.core.config import Config, DatabaseConfig, JobConfig, RedisConfig
from brewd.core.cron import Cron
from brewd.daemon import build_scheduler
from brewd.db import migrate
from tests.helpers import FakeClock, wait_until
from tests.integration.core.conftest import EFFECTS, FakeJob

ADMIN = os.environ.get(
    "BREWD_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
REDIS = os.environ.get("BREWD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
JOB = "expirePokes"
ENDED = "SELECT * FROM job_runs WHERE job = %s AND slot = %s AND status <> 'running'"


def measure(dsn: str, slots: int) -> list[dict[str, Any]]:
    config = Config(
        database=DatabaseConfig(url=dsn, pool_max_size=6),
        redis=RedisConfig(url=REDIS),
        jobs=dict(Config().jobs) | {JOB: JobConfig(schedule=Cron("* * * * *"))},
    )
    db = Database(config.database)
    db.open(wait=True)
    start = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)
    clock = FakeClock(start)
    s = build_scheduler(
        config=config, db=db, cache=make_client(config.redis), jobs={JOB: FakeJob(JOB)},
        clock=clock, metrics=Metrics(), node="bench:1",
    )  # fmt: skip
    s.tick(start)
    s.runner.drain(10)
    results = []
    with (
        psycopg.connect(dsn, row_factory=dict_row) as locker,
        psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as reader,
    ):
        locker.execute("LOCK TABLE test_effects IN ACCESS EXCLUSIVE MODE")
        for n in range(1, slots + 1):
            slot = start.replace(second=0) + timedelta(minutes=n)
            fired = time.monotonic()
            s.tick(slot)  # the slot's own instant: the run has the whole minute
            row = wait_until(
                functools.partial(_ended, reader, slot), timeout=90, what="the run to end"
            )
            assert row is not None
            wait_until(lambda: not s.runner.running(), timeout=10, what="the job to be free")
            freed = time.monotonic() - fired
            results.append({"slot": slot, "freed_after_s": freed, **row})
        locker.rollback()
    s.runner.shutdown(5)
    s.cache.close()
    db.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()
    name = f"brewd_bench_retry_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = make_conninfo(ADMIN, dbname=name)
        with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as conn:
            migrate.apply(conn)
            conn.execute(EFFECTS)
        for r in measure(dsn, args.slots):
            took = (r["finished_at"] - r["started_at"]).total_seconds()
            print(
                f"slot {r['slot']:%H:%M}: {r['status']} after {took:.2f}s,"
                f" job free {r['freed_after_s']:.2f}s after the slot"
                f" ({60 - r['freed_after_s']:.2f}s before the next), attempts {r['attempts']},"
                f" error: {r['error']}"
            )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()


def _ended(reader: psycopg.Connection[dict[str, Any]], slot: datetime) -> dict[str, Any] | None:
    return reader.execute(ENDED, (JOB, slot)).fetchone()
