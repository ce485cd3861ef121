"""Retries keep their promises on a real database: every attempt ends before the job's next
slot, and a run between two attempts keeps its claim against the abandoned-run sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from brewd.core.config import JobConfig
from brewd.core.cron import Cron
from brewd.loop.scheduler import Scheduler
from brewd.runs.records import RunRecord
from tests.helpers import wait_until
from tests.integration.core.conftest import FakeJob, make_config

JOB = "expirePokes"
START = datetime(2026, 11, 29, 10, 0, 30, tzinfo=UTC)
LEFT_S = 8.0  # each slot is fired this long (real seconds) before the next one is due
Rows = Callable[[], list[dict[str, Any]]]
# Advisory locks of this test's database (pg_locks shows the whole shared cluster).
OURS = (
    "locktype = 'advisory'"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def run_rows(pg: psycopg.Connection[dict[str, Any]]) -> list[dict[str, Any]]:
    return pg.execute(
        "SELECT slot, status, error, attempts, last_error, finished_at FROM job_runs"
        " WHERE job = %s ORDER BY slot",
        (JOB,),
    ).fetchall()


def test_a_table_locked_across_two_slots_gets_one_row_per_slot_each_ended_before_the_next(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    pg: psycopg.Connection[dict[str, Any]],
    effects: Rows,
) -> None:
    config = make_config(pg_dsn, redis_url, **{JOB: JobConfig(schedule=Cron("* * * * *"))})
    s = make_scheduler({JOB: FakeJob(JOB)}, config=config, now=START)
    s.tick(START)  # the start-up catch-up runs 10:00 while the table is still free
    s.runner.drain(10)
    slots = [START.replace(second=0) + timedelta(minutes=m) for m in (1, 2)]
    with psycopg.connect(pg_dsn) as locker:  # a transaction: the lock holds until rollback
        locker.execute("LOCK TABLE test_effects IN ACCESS EXCLUSIVE MODE")
        for slot in slots:
            now = pg.execute("SELECT clock_timestamp() AS t").fetchone()
            assert now is not None
            fired = now["t"]
            # The fake clock says LEFT_S before the next slot: the real window is that long.
            s.tick(slot + timedelta(seconds=60 - LEFT_S))

            def ended(slot: datetime = slot) -> bool:
                done = any(r["slot"] == slot and r["status"] != "running" for r in run_rows(pg))
                return done and not s.runner.running()

            wait_until(ended, timeout=LEFT_S + 10, what=f"the run of {slot} to end")
            row = next(r for r in run_rows(pg) if r["slot"] == slot)
            assert row["finished_at"] < fired + timedelta(seconds=LEFT_S)  # before the next slot
            assert row["status"] == "failed"
            assert row["error"].startswith("LockNotAvailable")  # the real error, not "timeout"
            assert row["attempts"] >= 2  # it was retried, within the window
            assert row["last_error"].startswith("LockNotAvailable")
        locker.rollback()
    assert [(r["slot"], r["status"]) for r in run_rows(pg)] == [
        (START.replace(second=0), "succeeded"),
        (slots[0], "failed"),
        (slots[1], "failed"),
    ]


def test_a_run_between_attempts_keeps_its_row_through_the_sweep_and_ends_with_its_outcome(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job = FakeJob(JOB)
    job.sql = "SELECT pg_terminate_backend(pg_backend_pid())"  # attempt 1 loses its connection
    job.sql_once = True
    a = make_scheduler({JOB: job}, node="a")
    b = make_scheduler({JOB: FakeJob(JOB)}, node="b")
    swept: list[int] = []

    def sweep_now(record: RunRecord) -> None:  # on the job's thread, between the two attempts
        for node in (a, b):  # this node's own cleanup, and another node's
            swept.append(node.runner.claims.sweep_abandoned({JOB: 600}))

    a.runner.on_retry_wait = sweep_now
    record = a.runner.trigger(JOB, "tester").future.result(timeout=30)
    assert swept == [0, 0]  # the sweeps saw the claim held and left the live run alone
    assert record.status == "succeeded"
    assert record.error is None
    assert record.attempts == 2
    assert "terminating connection" in str(record.last_error)
    assert job.calls == 2
    assert len(effects()) == 1
    assert run_rows(pg)[0]["status"] == "succeeded"


def test_a_manual_run_retries_within_its_own_timeout_and_fails_with_the_real_error(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    effects: Rows,
) -> None:
    config = make_config(
        pg_dsn, redis_url, **{JOB: JobConfig(schedule=Cron("* * * * *"), timeout=4)}
    )
    a = make_scheduler({JOB: FakeJob(JOB)}, config=config)
    with psycopg.connect(pg_dsn) as locker:
        locker.execute("LOCK TABLE test_effects IN ACCESS EXCLUSIVE MODE")
        record = a.runner.trigger(JOB, "tester").future.result(timeout=20)
        locker.rollback()
    assert record.finished_at is not None
    assert record.started_at is not None
    took = record.finished_at - record.started_at
    assert took < timedelta(seconds=4)  # the window of a manual run is its timeout
    assert (record.attempts or 0) >= 2
    assert str(record.error).startswith("LockNotAvailable")


def test_a_job_busy_outside_the_database_is_stopped_before_its_next_slot(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    pg: psycopg.Connection[dict[str, Any]],
    effects: Rows,
) -> None:
    config = make_config(pg_dsn, redis_url, **{JOB: JobConfig(schedule=Cron("* * * * *"))})
    job = FakeJob(JOB)
    s = make_scheduler({JOB: job}, config=config, now=START)
    s.tick(START)
    s.runner.drain(10)
    job.block = True  # checks its stop flag, never finishes by itself
    s.tick(START.replace(second=0) + timedelta(minutes=1, seconds=56))  # 4 s before the next
    assert s.runner.drain(15)
    row = run_rows(pg)[-1]
    assert row["status"] == "failed"
    assert row["error"].startswith("timeout: stopped before the next slot")
    assert row["attempts"] == 1


def test_a_run_whose_claim_was_lost_between_attempts_does_not_try_again(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job = FakeJob(JOB)
    job.sql = "SELECT pg_terminate_backend(pg_backend_pid())"
    job.sql_once = True
    a = make_scheduler({JOB: job}, node="a")
    b = make_scheduler({JOB: FakeJob(JOB)}, node="b")

    def lose_the_claim(record: RunRecord) -> None:  # the claim's own session dies, too
        pg.execute(f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE {OURS}")
        b.runner.claims.sweep_abandoned({JOB: 600})  # another node sees no holder: abandoned

    a.runner.on_retry_wait = lose_the_claim
    record = a.runner.trigger(JOB, "tester").future.result(timeout=30)
    assert job.calls == 1  # no second attempt on a claim that is gone
    assert effects() == []
    assert record.status == "failed"
    row = run_rows(pg)[0]
    assert row["error"].startswith("abandoned: node a stopped")  # the sweeper's record stands


def test_a_claim_connection_lost_while_the_row_is_still_ours_is_taken_again(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    job = FakeJob(JOB)
    job.sql = "SELECT pg_terminate_backend(pg_backend_pid())"
    job.sql_once = True
    a = make_scheduler({JOB: job})

    def lose_the_claim_connection(record: RunRecord) -> None:  # e.g. the database restarted
        pg.execute(f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE {OURS}")

    a.runner.on_retry_wait = lose_the_claim_connection
    record = a.runner.trigger(JOB, "tester").future.result(timeout=30)
    assert (record.status, record.attempts) == ("succeeded", 2)
    assert len(effects()) == 1
    held = pg.execute(f"SELECT count(*) AS n FROM pg_locks WHERE {OURS}").fetchone()
    assert held is not None
    assert held["n"] == 0  # the lock taken again was released at the end
