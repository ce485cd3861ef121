"""A node that was stalled (SIGSTOP, a VM pause) while another ran the slots must not report
those slots as missed when it wakes: its logs and metrics would raise false alarms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from brewd.adapters.cache import make_client
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.daemon import build_scheduler
from brewd.loop.scheduler import Scheduler
from tests.helpers import FakeClock
from tests.integration.core.conftest import EFFECTS, FakeJob, make_config

JOB = "expirePokes"  # */5 * * * *
START = datetime(2026, 11, 29, 10, 1, tzinfo=UTC)


@pytest.fixture
def nodes(pg_dsn: str, redis_url: str, pg: psycopg.Connection[Any]) -> Iterator[list[Scheduler]]:
    pg.execute(EFFECTS)
    made = []
    for node in ("node-a", "node-b"):
        config = make_config(pg_dsn, redis_url)
        db = Database(config.database, application_name=f"brewd-{node}")
        db.open(wait=True, timeout=10)
        made.append(
            build_scheduler(
                config=config,
                db=db,
                cache=make_client(config.redis),
                jobs={JOB: FakeJob(JOB)},
                clock=FakeClock(START),
                metrics=Metrics(),
                node=node,
            )
        )
    yield made
    for scheduler in made:
        scheduler.runner.shutdown(timeout=5)
        scheduler.cache.close()
        scheduler.db.close()


def missed_total(scheduler: Scheduler) -> float:
    value = scheduler.metrics.registry.get_sample_value(
        "brewd_missed_slots_total", {"job": JOB, "reason": "late"}
    )
    return value or 0.0


def test_slots_run_by_another_node_are_not_missed_by_the_one_that_stalled(
    nodes: list[Scheduler], pg: psycopg.Connection[Any]
) -> None:
    awake, stalled = nodes
    for scheduler in nodes:
        scheduler.tick(START)  # both synced; the 10:00 slot is run by one of them
        scheduler.runner.drain(10)
    for minute in (5, 10, 15):  # the stalled node does not tick through these
        at = START.replace(minute=minute)
        awake.tick(at)
        awake.runner.drain(10)
    before = pg.execute("SELECT slot, status, node FROM job_runs ORDER BY slot").fetchall()
    stalled.tick(START.replace(minute=16))  # wakes: 10:05 to 10:15 are due for it
    stalled.runner.drain(10)
    after = pg.execute("SELECT slot, status, node FROM job_runs ORDER BY slot").fetchall()
    assert after == before
    assert [row["status"] for row in after] == ["succeeded"] * 4
    assert missed_total(stalled) == 0.0


def test_slots_nobody_ran_are_still_counted_missed(nodes: list[Scheduler]) -> None:
    _, lonely = nodes
    lonely.tick(START)
    lonely.runner.drain(10)
    lonely.tick(START.replace(minute=16))  # 10:05 and 10:10 were never run anywhere
    lonely.runner.drain(10)
    assert missed_total(lonely) == 2.0
