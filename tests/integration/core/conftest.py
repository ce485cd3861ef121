"""Schedulers on a real database with small, controllable jobs under the real job names."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from brewd.adapters.cache import make_client
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.core.config import Config, DatabaseConfig, JobConfig, RedisConfig, SchedulerConfig
from brewd.daemon import build_scheduler
from brewd.jobs.base import JobContext, JobResult
from brewd.loop.scheduler import Scheduler
from tests.helpers import FakeClock

EFFECTS = "CREATE TABLE IF NOT EXISTS test_effects (job text, run_id bigint, note text)"


class FakeJob:
    """Writes one row per batch to test_effects, so effects can be counted exactly."""

    def __init__(self, name: str, batches: int = 1) -> None:
        self.NAME = name
        self.batches = batches
        self.started = threading.Event()
        self.release = threading.Event()
        self.block = False
        self.calls = 0
        self.before_batch: Callable[[int], None] | None = None
        self.sql: str | None = None
        self.sql_once = False  # run `sql` on the first call only

    def run(self, ctx: JobContext) -> JobResult:
        self.calls += 1
        self.started.set()
        if self.block:
            while not self.release.wait(0.02):
                ctx.check_stop()
        if self.sql:
            statement = self.sql
            if self.sql_once:
                self.sql = None
            ctx.conn.execute(statement)
        for batch in range(self.batches):
            if self.before_batch:
                self.before_batch(batch)
            with ctx.batch() as conn:
                conn.execute(
                    "INSERT INTO test_effects (job, run_id, note) VALUES (%s, %s, %s)",
                    (self.NAME, ctx.run_id, f"batch {batch}"),
                )
        return JobResult(self.batches, f"{self.batches} batch(es)")


def make_config(pg_dsn: str, redis_url: str, **jobs: JobConfig) -> Config:
    base = Config()
    merged = dict(base.jobs) | jobs
    return Config(
        database=DatabaseConfig(url=pg_dsn, pool_max_size=6, connect_timeout=5),
        redis=RedisConfig(url=redis_url),
        scheduler=SchedulerConfig(workers=4),
        jobs=merged,
    )


@pytest.fixture
def effects(pg: psycopg.Connection[dict[str, Any]]) -> Callable[[], list[dict[str, Any]]]:
    pg.execute(EFFECTS)
    return lambda: pg.execute("SELECT * FROM test_effects ORDER BY run_id, note").fetchall()


@pytest.fixture
def make_scheduler(
    pg_dsn: str, redis_url: str, effects: object
) -> Iterator[Callable[..., Scheduler]]:
    """Factory: a Scheduler on the test database with its own pool and FakeClock; closed after."""
    made: list[tuple[Scheduler, Database]] = []

    def factory(
        jobs: dict[str, Any],
        *,
        node: str = "node-a",
        now: datetime | None = None,
        config: Config | None = None,
    ) -> Scheduler:
        config = config or make_config(pg_dsn, redis_url)
        db = Database(config.database, application_name=f"brewd-{node}")
        db.open(wait=True, timeout=10)
        clock = FakeClock(now or datetime(2026, 11, 29, 10, 0, tzinfo=UTC))
        scheduler = build_scheduler(
            config=config,
            db=db,
            cache=make_client(config.redis),
            jobs=jobs,
            clock=clock,
            metrics=Metrics(),
            node=node,
        )
        made.append((scheduler, db))
        return scheduler

    yield factory
    for scheduler, db in made:
        scheduler.runner.shutdown(timeout=5)
        scheduler.cache.close()
        db.close()
