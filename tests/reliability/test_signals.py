"""SIGKILL in the middle of a big batched run, and SIGTERM during a long one."""

from __future__ import annotations

import signal
import time
from typing import Any

import psycopg
import pytest

from tests.helpers import wait_until
from tests.reliability.backlog import consistency, expired_backlog, run_row
from tests.reliability.conftest import Spawn
from tests.reliability.daemon import DaemonProcess

Conn = psycopg.Connection[dict[str, Any]]
# 100,000 rather than the 300,000 of the issue: on a 2-core CI machine 300,000 costs about a
# minute of seeding and a minute of expiry, and 20 batches already show whole-batch atomicity.
BACKLOG = 100_000
BATCH = 5_000  # the default database.batch_size


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_mid_batch_leaves_whole_batches_and_the_restart_finishes_the_rest(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    expired_backlog(pg, BACKLOG)
    first = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false")
    run_id = first.trigger("expireUsers", wait=False).body["run_id"]
    wait_until(lambda: consistency(pg)["done"] >= 2 * BATCH, 120, "two batches committed")
    first.signal(signal.SIGKILL)
    assert first.process is not None
    assert first.process.wait(10) == -signal.SIGKILL
    state = consistency(pg)
    # Every user is either wholly done (inactive, session closed) or untouched; and since one
    # run takes whole batches in order, what is done is a whole number of batches.
    assert (state["half_done"], state["closed_but_active"]) == (0, 0), state
    assert state["done"] % BATCH == 0, state
    assert state["done"] < BACKLOG, state
    assert run_row(pg, run_id)["status"] == "running"  # nobody has looked yet

    second = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false")
    wait_until(lambda: run_row(pg, run_id)["status"] != "running", 30, "the abandoned mark")
    interrupted = run_row(pg, run_id)
    assert interrupted["status"] == "failed"
    assert interrupted["error"].startswith("abandoned")
    reply = second.trigger("expireUsers")
    assert (reply.status, reply.body["status"]) == (200, "succeeded"), reply.body
    assert reply.body["affected_records"] == BACKLOG - state["done"]
    assert consistency(pg) == {"done": BACKLOG, "half_done": 0, "closed_but_active": 0}
    assert second.stop() == 0


@pytest.mark.parametrize(
    ("shutdown_timeout", "outcome"),
    [("1", "failed"), ("120", "succeeded")],
    ids=["cancelled", "finishes"],
)
def test_sigterm_during_a_long_run_finishes_or_cancels_within_the_timeout_and_exits_0(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str, shutdown_timeout: str, outcome: str
) -> None:
    users = 3_000
    expired_backlog(pg, users)
    daemon = spawn(
        pg_dsn,
        redis_url,
        ENABLE_SCHEDULER="false",
        BREWD_DATABASE_BATCH_SIZE="300",
        BREWD_SCHEDULER_SHUTDOWN_TIMEOUT=shutdown_timeout,
    )
    with psycopg.connect(pg_dsn) as blocker:
        if outcome == "failed":
            # Still running at shutdown on any machine, however fast: the third batch (oldest
            # expiry first) waits on a row this test holds locked until the end.
            third = f"u{users - 2 * 300 - 1}"
            blocker.execute("SELECT 1 FROM users WHERE username = %s FOR UPDATE", (third,))
        run_id = daemon.trigger("expireUsers", wait=False).body["run_id"]
        wait_until(lambda: consistency(pg)["done"] >= 600, 60, "the run under way")
        if outcome == "failed":
            wait_until(lambda: waiting_on_a_lock(pg), 60, "the run to wait on the held row")
        stopped = stop_within(daemon, float(shutdown_timeout) + 30)
        blocker.rollback()
    took, record, state = stopped, run_row(pg, run_id), consistency(pg)
    assert record["status"] == outcome, (record, took)
    assert state["half_done"] == 0
    assert state["closed_but_active"] == 0
    if outcome == "failed":
        assert record["error"] == "cancelled: the daemon is shutting down"
        assert state["done"] == 600  # the two batches before the held row, never a half batch
        assert "cancelled at shutdown: expireUsers" in daemon.output()
    else:
        assert state["done"] == users == record["affected_records"]
    assert "brewd stopped" in daemon.output()


def waiting_on_a_lock(pg: Conn) -> bool:
    row = pg.execute(
        "SELECT count(*) AS n FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'brewd'"
        " AND wait_event_type = 'Lock'"
    ).fetchone()
    return bool(row and row["n"])


def stop_within(daemon: DaemonProcess, timeout: float) -> float:
    """SIGTERM; the daemon must exit 0 within `timeout`. Returns how long it took."""
    asked = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.process is not None
    assert daemon.process.wait(timeout) == 0
    return time.monotonic() - asked
