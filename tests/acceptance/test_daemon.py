"""`brewd run` as a real subprocess: starts, serves its socket, reloads, shuts down cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.helpers import wait_until


class UnixHTTPConnection(HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def request(path: str, method: str, url: str) -> tuple[int, Any]:
    conn = UnixHTTPConnection(path)
    try:
        conn.request(method, url)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def answers(path: str) -> bool:
    try:
        return request(path, "GET", "/health")[0] in (200, 503)
    except OSError:
        return False


def idle_jobs_running(path: str) -> list[str]:
    jobs = request(path, "GET", "/api/scheduler/status")[1]["jobs"]
    return [job["name"] for job in jobs if job["running"]]


class Daemon:
    def __init__(self, process: subprocess.Popen[str], socket_path: str, log: Path) -> None:
        self.process, self.socket, self.log = process, socket_path, log

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def daemon(pg_dsn: str, redis_url: str, tmp_path: Path) -> Iterator[Daemon]:
    config = tmp_path / "brewd.toml"
    config.write_text('[scheduler]\ntimezone = "Europe/Paris"\n')
    short = tempfile.mkdtemp(prefix="brewd-", dir="/tmp")  # AF_UNIX paths must stay short
    sock = os.path.join(short, "s.sock")
    env = {
        **os.environ,
        "DATABASE_URL": pg_dsn,
        "REDIS_URL": redis_url,
        "BREWD_CONTROL_SOCKET": sock,
        "BREWD_CONTROL_GROUP": "root",
        "LOG_LEVEL": "debug",
    }
    env.pop("NOTIFY_SOCKET", None)
    env.pop("JOURNAL_STREAM", None)
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "brewd", "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    handle = Daemon(process, sock, log)
    try:
        wait_until(lambda: answers(sock) or process.poll() is not None, 30, "the control socket")
        assert process.poll() is None, handle.output()
        yield handle
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        os.rmdir(short) if os.path.isdir(short) and not os.listdir(short) else None


def test_runs_serves_and_stops_cleanly_on_sigterm(daemon: Daemon, pg_dsn: str) -> None:
    status, body = request(daemon.socket, "GET", "/api/scheduler/status")
    assert status == 200
    assert {job["name"] for job in body["jobs"]} >= {"expireUsers", "expirePokes"}
    assert body["timezone"] == "Europe/Paris"
    # At start the daemon catches up the latest slot of each job (expirePokes runs every five
    # minutes, so its latest slot is always within its grace): let that finish first.
    wait_until(lambda: not idle_jobs_running(daemon.socket), 30, "the start-up catch-up")
    status, record = request(daemon.socket, "POST", "/api/scheduler/trigger/expirePokes")
    assert status == 200, record
    assert record["status"] == "succeeded"
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(30) == 0
    assert "brewd stopped" in daemon.output()
    assert not os.path.exists(daemon.socket)
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT trigger, status FROM job_runs WHERE job = 'expirePokes'"
        ).fetchall()
    assert ("manual", "succeeded") in rows
    assert ("catchup", "succeeded") in rows


def test_sighup_with_a_bad_config_keeps_the_old_one(daemon: Daemon, tmp_path: Path) -> None:
    (tmp_path / "brewd.toml").write_text('[scheduler]\ntimezone = "Mars/Olympus"\n')
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload rejected" in daemon.output(), 15, "the rejection line")
    assert "scheduler.timezone" in daemon.output()
    status, body = request(daemon.socket, "GET", "/api/scheduler/status")
    assert (status, body["timezone"]) == (200, "Europe/Paris")
    (tmp_path / "brewd.toml").write_text('[scheduler]\ntimezone = "Asia/Tokyo"\n')
    daemon.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: (
            request(daemon.socket, "GET", "/api/scheduler/status")[1]["timezone"] == "Asia/Tokyo"
        ),
        15,
        "the new time zone",
    )
    daemon.process.send_signal(signal.SIGINT)
    assert daemon.process.wait(30) == 0


def test_bad_configuration_exits_78_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "brewd.toml"
    config.write_text('[jobs.expireUsers]\nschedule = "every hour"\n')
    result = subprocess.run(
        [sys.executable, "-m", "brewd", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 78
    assert result.stderr.count("\n") == 1
    assert "jobs.expireUsers.schedule" in result.stderr
