"""An unexpected error while claiming a slot (found by the chaos run: psycopg_pool's back-off
raised OSError) must not leave the job reserved on the node: the next slot runs, instead of
every later slot being skipped as 'overlap: still running' on a node that runs nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from brewd.core.config import JobConfig
from brewd.core.cron import Cron
from brewd.loop.scheduler import Scheduler
from tests.integration.core.conftest import FakeJob, make_config

JOB = "expirePokes"
START = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)


def test_a_claim_that_raises_an_unexpected_error_does_not_wedge_the_job(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    pg: psycopg.Connection[dict[str, Any]],
    effects: Callable[[], list[dict[str, Any]]],
) -> None:
    config = make_config(pg_dsn, redis_url, **{JOB: JobConfig(schedule=Cron("* * * * *"))})
    s = make_scheduler({JOB: FakeJob(JOB)}, config=config, now=START)
    real_take = s.runner.claims.take
    failures: list[str] = []

    def take_failing_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("raised")
            raise OSError(22, "Invalid argument")  # what the pool's back-off sleep raised
        return real_take(*args, **kwargs)

    s.runner.claims.take = take_failing_once  # type: ignore[method-assign]
    s.tick(START)  # the start-up catch-up of 10:00: its claim raises
    assert s.runner.drain(10)
    assert failures
    next_slot = START.replace(second=0) + timedelta(minutes=1)
    s.tick(next_slot + timedelta(seconds=1))
    s.runner.drain(10)
    rows = pg.execute(
        "SELECT slot, status, message FROM job_runs WHERE job = %s ORDER BY slot", (JOB,)
    ).fetchall()
    assert [(r["slot"], r["status"]) for r in rows][-1:] == [(next_slot, "succeeded")], rows
    assert len(effects()) == 1
