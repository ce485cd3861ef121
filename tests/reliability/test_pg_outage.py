"""PostgreSQL behind a proxy the test cuts: down at start, lost in the middle of a run."""

from __future__ import annotations

import itertools
import time
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from tests.helpers import wait_until
from tests.reliability.backlog import consistency, expired_backlog, run_row
from tests.reliability.conftest import Spawn, via
from tests.reliability.daemon import NotifyListener, run_brewctl
from tests.reliability.proxy import Proxy

Conn = psycopg.Connection[dict[str, Any]]


def test_database_down_at_start_daemon_serves_degraded_and_recovers_alone(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, redis_url: str, notify: NotifyListener
) -> None:
    pg_proxy.cut()
    daemon = spawn(
        via(pg_proxy, pg_dsn),
        redis_url,
        NOTIFY_SOCKET=notify.path,
        BREWD_DATABASE_CONNECT_TIMEOUT="2",
    )
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
    wait_until(lambda: any("degraded" not in s for s in notify.statuses()[-1:]), 60, "STATUS clear")
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


# The pool's own wait was 10 s; "about a second" is the target (measured in
# docs/failure-modes.md). This bound only has to fail the old behaviour on any machine.
ANSWERS_WITHIN_S = 5.0


def test_database_down_brewctl_answers_at_once_with_the_cause(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, redis_url: str
) -> None:
    daemon = spawn(via(pg_proxy, pg_dsn), redis_url, BREWD_DATABASE_CONNECT_TIMEOUT="10")
    wait_until(lambda: daemon.health().status == 200, 30, "the database up")
    pg_proxy.cut()
    wait_until(lambda: daemon.health().status == 503, 30, "the outage to be noticed")
    for command, code in [
        (["status"], 0),
        (["trigger", "expireUsers"], 7),
        (["history", "expireUsers"], 7),
        (["pause", "expireUsers"], 7),
        (["health"], 7),
    ]:
        started = time.monotonic()
        cli = run_brewctl(*command, "--socket", daemon.socket, env=daemon.env)
        took = time.monotonic() - started
        output = cli.stdout + cli.stderr
        assert cli.returncode == code, (command, output)
        assert took < ANSWERS_WITHIN_S, (command, took)
        assert "Connection refused" in output, (command, output)  # the cause, not a timeout
        assert "down since" in output, (command, output)
    status = daemon.request("GET", "/api/scheduler/status").body
    assert status["database"]["up"] is False
    assert status["database"]["down_since"]
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()


def test_watchdog_keeps_its_rhythm_through_a_database_outage(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, redis_url: str, notify: NotifyListener
) -> None:
    usec = 2_000_000  # systemd restarts the daemon if two pings are further apart than this
    daemon = spawn(
        via(pg_proxy, pg_dsn),
        redis_url,
        NOTIFY_SOCKET=notify.path,
        WATCHDOG_USEC=str(usec),
        BREWD_DATABASE_CONNECT_TIMEOUT="10",
        start=False,
    )
    pg_proxy.cut()  # down from the start: the loop's start-up sync is database work
    daemon.start()
    wait_until(lambda: daemon.health().status == 503, 30, "the outage to be noticed")
    notify.drain()
    first, lines_then = len(notify.watchdog_at), len(daemon.output().splitlines())
    wait_until(lambda: len(notify.drain() and notify.watchdog_at) >= first + 8, 60, "8 pings")
    pings = notify.watchdog_at[first:]
    gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
    assert max(gaps) < usec / 1e6, gaps
    # The outage was logged once when it began; its seconds add nothing to the log (the
    # pool's per-attempt warnings are silenced, the loop skips database work while down).
    later = [line for line in daemon.output().splitlines()[lines_then:] if " DEBUG " not in line]
    assert len(later) <= 2, later
    assert "error connecting in" not in daemon.output()
    assert daemon.stop() == 0


def test_wrong_database_name_logs_the_cause_once_not_per_attempt(
    spawn: Spawn, pg_dsn: str, redis_url: str
) -> None:
    wrong = make_conninfo(pg_dsn, dbname="brewd_no_such_database")
    daemon = spawn(wrong, redis_url, BREWD_DATABASE_CONNECT_TIMEOUT="2")
    health = wait_until(
        lambda: (reply := daemon.health()).status == 503 and reply.body, 30, "unhealthy"
    )
    assert health
    assert 'database "brewd_no_such_database" does not exist' in health["database"]["error"]
    # Several probe periods (5 s each for a permanent error), then count what the log holds.
    wait_until(lambda: daemon.health().body["uptime_s"] > 12, 30, "12 s of uptime")
    log = [line for line in daemon.output().splitlines() if " DEBUG " not in line]
    assert sum("does not exist" in line for line in log) <= 2, log
    assert not any("error connecting in" in line for line in log), log
    assert daemon.stop() == 0
