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
    assert ran["status"] == "succeeded", ran
    # The hour the jump skipped is still to come for the database: nothing of it is recorded
    # missed (brewd/loop/ahead.py); the daemon says it keeps those slots.
    assert not [r for r in ledger(pg) if r["status"] == "missed" and r["slot"] > database_now(pg)]
    assert "left to the node whose clock reaches them" in daemon.output()
    offset.write_text("+0\n")  # and back
    wait_until(lambda: jumps(daemon) == 2, 30, "the backward jump noticed")
    # Back: the kept slots are due again; the next minute runs at its time.
    status = daemon.request("GET", "/api/scheduler/status").body
    pokes = next(job for job in status["jobs"] if job["name"] == "expirePokes")
    next_run = datetime.fromisoformat(pokes["next_run"].replace("Z", "+00:00"))
    assert next_run <= database_now(pg) + timedelta(minutes=1), next_run
    wait_until(
        lambda: any(r["slot"] >= next_run and r["status"] == "succeeded" for r in ledger(pg)),
        90,
        "the first slot after the step back",
    )
    rows = wait_until(lambda: contiguous(ledger(pg), first, ran), 90, "every minute recorded")
    metrics = daemon.request("GET", "/metrics").raw.decode()
    assert daemon.stop() == 0
    check_records(rows, ran)
    assert "brewd_clock_jumps_total 2.0" in metrics
    assert "Traceback" not in daemon.output()


def database_now(pg: Conn) -> datetime:
    row = pg.execute("SELECT now() AS now").fetchone()
    assert row is not None
    return row["now"]


def contiguous(
    rows: list[dict[str, Any]], first: dict[str, Any], ran: dict[str, Any]
) -> list[dict[str, Any]]:
    """The records from `first` up to the newest run before `ran`, if every minute has one."""
    before = [r for r in rows if r["slot"] < ran["slot"] and r["status"] != "running"]
    slots = [r["slot"] for r in before]
    expected = [first["slot"] + timedelta(minutes=i) for i in range(len(slots))]
    return [*before, ran] if len(slots) >= 2 and slots == expected else []


def check_records(rows: list[dict[str, Any]], ran: dict[str, Any]) -> None:
    """Every minute from the first slot on has exactly one record, and the run an hour ahead
    one too: the minutes the clock was ahead for either ran after the step back or, if their
    time passed while it was ahead, are 'missed: clock_jump'; nothing failed or doubled."""
    assert rows[-1] == ran
    # The start-up slot ran, or was missed when the start came within seconds of the next.
    assert rows[0]["status"] == "succeeded" or rows[0]["message"] == "missed: downtime", rows[0]
    for row in rows[1:]:
        assert row["status"] == "succeeded" or row["message"] == "missed: clock_jump", row
    assert rows[-2]["status"] == "succeeded"  # the kept slots were run, not lost
