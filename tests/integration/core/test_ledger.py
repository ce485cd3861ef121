"""Exactly once per slot across nodes, no overlap, abandoned runs, the fence, pause, pruning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from brewd.core.cron import Cron
from brewd.core.errors import JobAlreadyRunning, UnknownJob
from brewd.loop.scheduler import Scheduler
from brewd.runs.claims import LOCK_NAMESPACE, lock_key
from tests.integration.core.conftest import FakeJob

SLOT = datetime(2026, 11, 29, 10, 5, tzinfo=UTC)  # expirePokes runs */5
Rows = Callable[[], list[dict[str, Any]]]


def runs(pg: psycopg.Connection[dict[str, Any]], job: str = "expirePokes") -> list[dict[str, Any]]:
    return pg.execute(
        "SELECT job, slot, trigger, node, status, message, error FROM job_runs"
        " WHERE job = %s ORDER BY id",
        (job,),
    ).fetchall()


def synced(scheduler: Scheduler, now: datetime) -> Scheduler:
    """The first tick catches up against the (empty) ledger; the next ones fire slots."""
    scheduler.tick(now)
    scheduler.runner.drain(10)
    return scheduler


def test_two_nodes_run_each_slot_exactly_once(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job_a, job_b = FakeJob("expirePokes"), FakeJob("expirePokes")
    start = SLOT - timedelta(seconds=30)
    a = synced(make_scheduler({"expirePokes": job_a}, node="a", now=start), start)
    b = synced(make_scheduler({"expirePokes": job_b}, node="b", now=start), start)
    baseline = len(effects())
    for minute in range(0, 30, 5):  # six slots, both nodes ticking at every one
        now = SLOT + timedelta(minutes=minute, milliseconds=3)
        a.tick(now)
        b.tick(now)
        a.runner.drain(10)
        b.runner.drain(10)
    ran = [r for r in runs(pg) if r["status"] == "succeeded" and r["trigger"] == "schedule"]
    assert [r["slot"] for r in ran] == [SLOT + timedelta(minutes=m) for m in range(0, 30, 5)]
    assert len(effects()) - baseline == 6  # no duplicated effects
    assert job_a.calls + job_b.calls >= 6


def test_overlap_is_recorded_skipped_and_manual_trigger_refused(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    slow = FakeJob("expirePokes")
    a = synced(make_scheduler({"expirePokes": slow}, node="a", now=SLOT), SLOT)
    b = synced(make_scheduler({"expirePokes": FakeJob("expirePokes")}, node="b", now=SLOT), SLOT)
    slow.block = True
    slow.started.clear()
    a.tick(SLOT + timedelta(minutes=5))
    assert slow.started.wait(10)
    with pytest.raises(JobAlreadyRunning):
        a.runner.trigger("expirePokes", "test")  # same node
    with pytest.raises(JobAlreadyRunning):
        b.runner.trigger("expirePokes", "test")  # another node: the advisory lock says so
    b.tick(SLOT + timedelta(minutes=10))
    b.runner.drain(10)
    slow.release.set()
    a.runner.drain(10)
    by_slot = {r["slot"]: r for r in runs(pg)}
    assert by_slot[SLOT + timedelta(minutes=5)]["status"] == "succeeded"
    skipped = by_slot[SLOT + timedelta(minutes=10)]
    assert skipped["status"] == "skipped"
    assert "overlap" in skipped["message"]


def test_manual_trigger_returns_the_run_record(
    make_scheduler: Callable[..., Scheduler], effects: Rows
) -> None:
    a = make_scheduler({"expirePokes": FakeJob("expirePokes", batches=3)})
    triggered = a.runner.trigger("expirePokes", "tester")
    record = triggered.future.result(timeout=10)
    assert record.id == triggered.run_id
    assert record.status == "succeeded"
    assert record.trigger == "manual"
    assert record.slot is None
    assert record.affected_records == 3
    assert record.finished_at is not None
    assert record.finished_at.tzinfo is not None
    assert len(effects()) == 3
    with pytest.raises(UnknownJob) as info:
        a.runner.trigger("nope", "tester")
    assert "expirePokes" in info.value.available


def test_dead_node_run_is_marked_abandoned_and_blocks_nothing(
    make_scheduler: Callable[..., Scheduler], pg_dsn: str, pg: psycopg.Connection[dict[str, Any]]
) -> None:
    # A node claims a run, then dies: its connection (and with it the lock) goes away.
    with psycopg.connect(pg_dsn, autocommit=True) as dead:
        dead.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, lock_key("expirePokes")))
        dead.execute(
            "INSERT INTO job_runs (job, trigger, node, started_at, status)"
            " VALUES ('expirePokes', 'manual', 'dead:1', now(), 'running')"
        )
    a = make_scheduler({"expirePokes": FakeJob("expirePokes")})
    record = a.runner.trigger("expirePokes", "tester").future.result(timeout=10)
    assert record.status == "succeeded"
    dead_run = next(r for r in runs(pg) if r["node"] == "dead:1")
    assert dead_run["status"] == "failed"
    assert "abandoned" in dead_run["error"]


def test_sweep_marks_a_dead_nodes_run_without_waiting_for_a_claim(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    pg.execute(
        "INSERT INTO job_runs (job, trigger, node, started_at, status)"
        " VALUES ('expireUsers', 'manual', 'dead:2', now(), 'running')"
    )
    a = make_scheduler({"expirePokes": FakeJob("expirePokes")})
    assert a.runner.claims.sweep_abandoned({"expireUsers": 600}) == 1
    assert runs(pg, "expireUsers")[0]["status"] == "failed"


def test_a_node_that_lost_its_claim_cannot_commit_further_batches(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job = FakeJob("expirePokes", batches=3)

    def steal(batch: int) -> None:
        if batch == 1:  # another node declares this run abandoned between batches
            pg.execute("UPDATE job_runs SET status = 'failed', error = 'abandoned: test'")

    job.before_batch = steal
    a = make_scheduler({"expirePokes": job})
    record = a.runner.trigger("expirePokes", "tester").future.result(timeout=10)
    assert record.status == "failed"
    assert [row["note"] for row in effects()] == ["batch 0"]  # batch 1 was rolled back
    assert runs(pg)[0]["error"] == "abandoned: test"  # the thief's record stands


def test_timeout_cancels_the_backend_and_frees_the_job(
    make_scheduler: Callable[..., Scheduler], pg_dsn: str, redis_url: str
) -> None:
    from brewd.core.config import JobConfig
    from tests.integration.core.conftest import make_config

    config = make_config(
        pg_dsn, redis_url, expirePokes=JobConfig(schedule=Cron("*/5 * * * *"), timeout=1)
    )
    hung = FakeJob("expirePokes")
    hung.sql = "SELECT pg_sleep(60)"
    a = make_scheduler({"expirePokes": hung}, config=config)
    record = a.runner.trigger("expirePokes", "tester").future.result(timeout=15)
    assert record.status == "failed"
    assert str(record.error).startswith("timeout")
    hung.sql = None
    assert a.runner.trigger("expirePokes", "tester").future.result(timeout=10).status == "succeeded"


def test_pause_is_cluster_wide_and_manual_runs_still_work(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    a = synced(make_scheduler({"expirePokes": FakeJob("expirePokes")}, node="a", now=SLOT), SLOT)
    b = synced(make_scheduler({"expirePokes": FakeJob("expirePokes")}, node="b", now=SLOT), SLOT)
    b.records.set_paused("expirePokes", True, "tester")  # paused on b, a obeys
    a.tick(SLOT + timedelta(minutes=5))
    a.runner.drain(10)
    missed = {r["slot"]: r for r in runs(pg)}[SLOT + timedelta(minutes=5)]
    assert (missed["status"], missed["message"]) == ("missed", "missed: paused")
    assert a.runner.trigger("expirePokes", "t").future.result(timeout=10).status == "succeeded"
    b.records.set_paused("expirePokes", False, "tester")
    a.tick(SLOT + timedelta(minutes=10))
    a.runner.drain(10)
    assert {r["slot"]: r for r in runs(pg)}[SLOT + timedelta(minutes=10)]["status"] == "succeeded"


def test_prune_keeps_the_newest_runs_per_job(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, status)"
        " SELECT 'expirePokes', '2026-01-01'::timestamptz + n * interval '5 min', 'schedule',"
        " 'x', 'succeeded' FROM generate_series(1, 1010) n"
    )
    pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, status, created_at)"
        " VALUES ('expireUsers', '2020-01-01', 'schedule', 'x', 'succeeded',"
        " now() - interval '40 days')"
    )
    a = make_scheduler({"expirePokes": FakeJob("expirePokes")})
    assert a.records.prune(keep_runs=1000, keep_days=30) == 11
    newest = pg.execute("SELECT max(slot) AS s, count(*) AS n FROM job_runs").fetchone()
    assert newest is not None
    assert newest["n"] == 1000


def test_a_lost_connection_is_retried_on_a_new_one_holding_the_lock(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job = FakeJob("expirePokes")
    job.sql = "SELECT pg_terminate_backend(pg_backend_pid())"  # the server drops the run's session
    job.sql_once = True
    a = make_scheduler({"expirePokes": job})
    record = a.runner.trigger("expirePokes", "tester").future.result(timeout=30)
    assert record.status == "succeeded"
    assert job.calls == 2
    assert len(effects()) == 1


def test_a_non_transient_error_fails_the_run_and_the_next_one_succeeds(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    job = FakeJob("expirePokes")
    job.sql = "SELECT * FROM no_such_table"
    a = make_scheduler({"expirePokes": job})
    record = a.runner.trigger("expirePokes", "tester").future.result(timeout=10)
    assert record.status == "failed"
    assert "UndefinedTable" in str(record.error)
    assert job.calls == 1  # not retried
    job.sql = None
    assert a.runner.trigger("expirePokes", "t").future.result(timeout=10).status == "succeeded"
