"""Two and three daemons on one database each, minute schedules, about three minutes: every
slot in the ledger exactly once, no duplicated effects, and a node frozen (SIGSTOP) past its
run's timeout cannot commit after it wakes (SIGCONT)."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests import fix_pg
from tests.helpers import wait_until
from tests.reliability.backlog import consistency, expired_backlog, run_row
from tests.reliability.conftest import Spawn
from tests.reliability.daemon import DaemonProcess
from tests.reliability.world import seed

Conn = psycopg.Connection[dict[str, Any]]
MINUTE_JOBS = ("expirePokes", "aggregateAnalytics", "calculateBadges", "proactiveMessages")
# Minute schedules; short timeouts so that a job caught by the freeze is reaped within the
# test; a batch of 100 so the expireUsers backlog takes many transactions; one café-host
# message per café at most every 30 s, so each slot's run posts once per café.
CONFIG = (
    '[database]\nbatch_size = 100\n[proactive]\nmin_interval = "30s"\n'
    + "".join(f'[jobs.{job}]\nschedule = "* * * * *"\ntimeout = "20s"\n' for job in MINUTE_JOBS)
    + '[jobs.expireUsers]\nenabled = false\ntimeout = "5s"\n'
)
SLOTS_WANTED = 3


@pytest.fixture
def second_pg_dsn(pg_template: str) -> Iterator[str]:
    yield from fix_pg._fresh_database(template=pg_template)


def cluster(spawn: Spawn, dsn: str, redis_url: str, nodes: int) -> list[DaemonProcess]:
    return [
        spawn(dsn, redis_url, CONFIG, ENABLE_PROACTIVE_MESSAGES="true", LOG_LEVEL="info")
        for _ in range(nodes)
    ]


def slots_done(conn: Conn) -> int:
    """The fewest scheduled slots any minute job has recorded."""
    rows = conn.execute(
        "SELECT job, count(*) AS n FROM job_runs WHERE slot IS NOT NULL GROUP BY job"
    ).fetchall()
    counts = {row["job"]: row["n"] for row in rows}
    return min(counts.get(job, 0) for job in MINUTE_JOBS)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_two_and_three_nodes_run_every_slot_once_and_a_frozen_node_cannot_commit(
    spawn: Spawn, pg_dsn: str, second_pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    with psycopg.connect(second_pg_dsn, autocommit=True, row_factory=dict_row) as pg3:
        seed(pg)
        seed(pg3)
        expired_backlog(pg3, 30_000)
        started = time.monotonic()
        pair = cluster(spawn, pg_dsn, redis_url, 2)
        trio = cluster(spawn, second_pg_dsn, redis_url, 3)
        frozen_at = freeze_mid_run(trio[2], pg3)
        wait_until(
            lambda: run_row(pg3, frozen_at["run_id"])["status"] != "running",
            200,
            "the frozen node's run reaped by the others",
        )
        reaped = run_row(pg3, frozen_at["run_id"])
        done_when_reaped = consistency(pg3)["done"]
        trio[2].signal(signal.SIGCONT)
        wait_until(lambda: "expireUsers failed in" in trio[2].output(), 60, "the woken run")
        wait_until(lambda: min(slots_done(pg), slots_done(pg3)) >= SLOTS_WANTED, 200, "slots")
        soak_s = time.monotonic() - started
        for daemon in pair + trio:
            assert daemon.stop() == 0, daemon.output()[-3000:]
        assert "ran past its timeout; its backend was terminated" in reaped["error"], reaped
        assert done_when_reaped < 30_000  # the backlog was not finished when it froze
        # Nothing committed by the frozen node after it lost its claim.
        state = consistency(pg3)
        assert state["done"] == done_when_reaped, (state, done_when_reaped)
        assert (state["half_done"], state["closed_but_active"]) == (0, 0)
        frozen = f"{socket.gethostname()}:{trio[2].pid}"
        for conn, nodes in ((pg, pair), (pg3, trio)):
            check_ledger(conn, nodes, frozen)
        print(f"soak: {soak_s:.0f}s, frozen node reaped: {reaped['error']}")


def freeze_mid_run(node: DaemonProcess, conn: Conn) -> dict[str, Any]:
    """Trigger the expireUsers backlog on `node` and freeze it once batches are committing."""
    run_id = node.trigger("expireUsers", wait=False).body["run_id"]
    wait_until(lambda: consistency(conn)["done"] >= 300, 60, "the backlog run under way")
    node.signal(signal.SIGSTOP)
    return {"run_id": run_id, "done": consistency(conn)["done"]}


def check_ledger(conn: Conn, nodes: list[DaemonProcess], frozen: str) -> None:
    rows = conn.execute(
        "SELECT job, slot, status, node, message, error FROM job_runs WHERE slot IS NOT NULL"
        " ORDER BY job, slot"
    ).fetchall()
    for job in MINUTE_JOBS:
        mine = [r for r in rows if r["job"] == job]
        slots = [r["slot"] for r in mine]
        # one record per slot (UNIQUE), and no slot lost between the first and the last
        expected = [slots[0] + timedelta(minutes=i) for i in range(len(slots))]
        assert slots == expected, (job, slots)
        for row in mine:
            # A scheduled run the frozen node had under way when it froze is reaped like the
            # manual one: failed, abandoned. Every other slot ran, or overlapped a run.
            reaped = row["node"] == frozen and "abandoned" in (row["error"] or "")
            assert (
                reaped
                or row["status"] == "succeeded"
                or (row["status"] == "skipped" and row["message"].startswith("overlap"))
            ), row
    ran_on = {r["node"] for r in rows if r["status"] == "succeeded"}
    assert len(ran_on) >= 2, ran_on  # the work really was shared
    check_messages(conn)


def check_messages(conn: Conn) -> None:
    """Each successful café-host run posted once per café, and no run was doubled."""
    cafes = conn.execute(
        "SELECT count(*) AS n FROM cafes WHERE enable_proactive_messages"
    ).fetchone()
    per_run = conn.execute(
        "SELECT created_at, count(*) AS n, count(DISTINCT cafe_id) AS cafes"
        " FROM agent_messages GROUP BY created_at ORDER BY created_at"
    ).fetchall()
    runs = conn.execute(
        "SELECT count(*) AS n FROM job_runs WHERE job = 'proactiveMessages'"
        " AND status = 'succeeded' AND affected_records > 0"
    ).fetchone()
    assert cafes is not None
    assert runs is not None
    assert len(per_run) == runs["n"] >= SLOTS_WANTED - 1
    assert all(r["n"] == r["cafes"] == cafes["n"] for r in per_run), per_run
