"""PostgreSQL behind a proxy the test cuts: down at start, lost in the middle of a run."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.helpers import wait_until
from tests.reliability.backlog import consistency, expired_backlog, run_row
from tests.reliability.conftest import Spawn, via
from tests.reliability.daemon import NotifyListener, run_brewctl
from tests.reliability.proxy import Proxy

Conn = psycopg.Connection[dict[str, Any]]


def test_database_down_at_start_daemon_serves_degraded_and_recovers_alone(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, redis_url: str, tmp_path: Any
) -> None:
    pg_proxy.cut()
    notify = NotifyListener(tmp_path)
    daemon = spawn(
        via(pg_proxy, pg_dsn),
        redis_url,
        NOTIFY_SOCKET=notify.path,
        BREWD_DATABASE_CONNECT_TIMEOUT="2",
    )
    try:
        reply = daemon.health()
        assert (reply.status, reply.body["status"]) == (503, "unhealthy")
        assert reply.body["database"]["up"] is False
        assert reply.body["scheduler"]["running"] is True
        wait_until(lambda: any("degraded" in s for s in notify.statuses()), 15, "STATUS degraded")
        assert any("READY" in m for m in notify.seen)  # systemd is told we are up regardless
        cli = run_brewctl("health", "--socket", daemon.socket, env=daemon.env)
        assert cli.returncode == 7, cli.stdout + cli.stderr
        assert "unhealthy" in cli.stdout + cli.stderr
        pg_proxy.restore()
        wait_until(lambda: daemon.health().status == 200, 60, "health back to 200")
        body = wait_until(
            lambda: (b := daemon.health().body)["scheduler"]["synced"] and b, 60, "the ledger sync"
        )
        assert body["database"]["up"] is True
        wait_until(
            lambda: any("degraded" not in s for s in notify.statuses()[-1:]), 60, "STATUS clear"
        )
        # The start-up catch-up happened once the database was back (expirePokes is every 5 min,
        # so its latest slot is always within its grace).
        with psycopg.connect(pg_dsn) as conn:
            wait_until(
                lambda: conn.execute(
                    "SELECT 1 FROM job_runs WHERE job = 'expirePokes' AND trigger = 'catchup'"
                ).fetchone(),
                30,
                "the catch-up run",
            )
        assert daemon.stop() == 0
    finally:
        notify.close()
    assert "Traceback" not in daemon.output()


def test_database_lost_mid_run_fails_cleanly_is_recorded_and_the_next_run_succeeds(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    expired_backlog(pg, 40_000)
    daemon = spawn(
        via(pg_proxy, pg_dsn),
        redis_url,
        ENABLE_SCHEDULER="false",
        BREWD_DATABASE_BATCH_SIZE="500",
        BREWD_DATABASE_CONNECT_TIMEOUT="2",
    )
    run_id = daemon.trigger("expireUsers", wait=False).body["run_id"]
    wait_until(lambda: consistency(pg)["done"] >= 2_000, 60, "some batches committed")
    pg_proxy.cut()
    wait_until(lambda: "expireUsers failed in" in daemon.output(), 60, "the run to give up")
    state = consistency(pg)
    assert state["half_done"] == 0
    assert state["closed_but_active"] == 0
    assert 2_000 <= state["done"] < 40_000
    assert daemon.health().status == 503
    pg_proxy.restore()
    wait_until(lambda: daemon.health().status == 200, 60, "the database back")
    second = daemon.trigger("expireUsers")
    assert second.status == 200, second.body
    assert second.body["status"] == "succeeded"
    first = run_row(pg, run_id)
    assert first["status"] == "failed", first
    assert "database unavailable" in first["error"], first
    assert consistency(pg) == {"done": 40_000, "half_done": 0, "closed_but_active": 0}
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()
