"""The wall clock of a running daemon stepped forward and back by an hour, with libfaketime
(the offset file is rewritten by the test; monotonic time runs on untouched)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import wait_until
from tests.reliability.conftest import Spawn
from tests.reliability.daemon import DaemonProcess, NotifyListener

Conn = psycopg.Connection[dict[str, Any]]
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
# Only expirePokes, every minute: the ledger then shows exactly what the loop decided.
CONFIG = '[jobs.expirePokes]\nschedule = "* * * * *"\n' + "".join(
    f"[jobs.{job}]\nenabled = false\n"
    for job in (
        "expireUsers",
        "expireBadges",
        "calculateBadges",
        "aggregateAnalytics",
        "proactiveMessages",
    )
)


def ledger(pg: Conn) -> list[dict[str, Any]]:
    return pg.execute(
        "SELECT slot, trigger, status, message FROM job_runs WHERE job = 'expirePokes'"
        " ORDER BY slot"
    ).fetchall()


def jumps(daemon: DaemonProcess) -> int:
    return daemon.output().count("clock_jump wall clock jumped")


def test_wall_clock_stepped_forward_then_back_an_hour(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str, tmp_path: Path, notify: NotifyListener
) -> None:
    if not os.path.exists(LIBFAKETIME):
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    offset = tmp_path / "faketime.rc"
    offset.write_text("+0\n")
    daemon = spawn(
        pg_dsn,
        redis_url,
        CONFIG,
        LD_PRELOAD=LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE=str(offset),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        # Under systemd's watchdog the loop wakes every second (half of WATCHDOG_USEC) to ping;
        # that is also how soon it notices a step of the wall clock. The listener is never
        # read: its queue fills after 10 datagrams, and sd_notify must not freeze the daemon.
        NOTIFY_SOCKET=notify.path,
        WATCHDOG_USEC="2000000",
    )
    first = wait_until(lambda: ledger(pg), 30, "the start-up catch-up")[0]
    wait_until(lambda: ledger(pg)[0]["status"] != "running", 30, "the catch-up to end")
    offset.write_text("+3600\n")  # forward an hour
    wait_until(lambda: jumps(daemon) == 1, 30, "the forward jump noticed")
    # The first run after the jump: its slot's if the jump left time before the next slot,
    # else the next slot's a few seconds later (brewd/core/catchup.py, min_window).
    ran = wait_until(
        lambda: [
            r
            for r in ledger(pg)
            if r["slot"] >= first["slot"] + timedelta(hours=1)
            and r["status"] not in ("running", "missed")
        ],
        30,
        "the run after the jump",
    )[0]
    offset.write_text("+0\n")  # and back
    wait_until(lambda: jumps(daemon) == 2, 30, "the backward jump noticed")
    after_back = ledger(pg)
    status = daemon.request("GET", "/api/scheduler/status").body
    metrics = daemon.request("GET", "/metrics").raw.decode()
    assert daemon.stop() == 0
    check_forward(after_back, first, ran)
    # Backwards: the slots already handled (up to an hour ahead of the real time now) never
    # run again; the next run is the first slot after them.
    pokes = next(job for job in status["jobs"] if job["name"] == "expirePokes")
    next_run = datetime.fromisoformat(pokes["next_run"].replace("Z", "+00:00"))
    assert next_run > after_back[-1]["slot"]
    assert after_back == ledger(pg)  # nothing ran or was recorded after the step back
    assert "brewd_clock_jumps_total 2.0" in metrics
    assert "Traceback" not in daemon.output()


def check_forward(rows: list[dict[str, Any]], first: dict[str, Any], ran: dict[str, Any]) -> None:
    """Every minute from the first slot on has exactly one record: the slots the jump skipped
    are 'missed: clock_jump' (or ran on time before it), the first run after the jump
    succeeded (the documented catch-up policy), and none is doubled or failed."""
    slots = [r["slot"] for r in rows]
    assert slots == [first["slot"] + timedelta(minutes=i) for i in range(len(slots))]
    assert ran in rows
    assert ran["status"] == "succeeded", ran
    # The start-up slot ran, or was missed when the start came within seconds of the next.
    assert rows[0]["status"] == "succeeded" or rows[0]["message"] == "missed: downtime", rows[0]
    missed = [r for r in rows[1:] if r["status"] == "missed"]
    assert len(missed) >= 57, len(missed)
    assert all(r["message"] == "missed: clock_jump" for r in missed), missed[:3]
    assert all(r["status"] in ("succeeded", "missed") for r in rows), rows[-3:]
