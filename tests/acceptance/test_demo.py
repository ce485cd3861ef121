"""`brewd demo` end to end, as a newcomer runs it: a subprocess, its summary, its socket, Ctrl-C.

The main test runs the demo with no DATABASE_URL/REDIS_URL, exactly as the README's command
does, so it starts its own embedded servers; a second one runs it on the suite's servers, the
path for people who already have PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import psycopg
import pytest

from brewd.jobs import ALL_JOBS
from tests.integration import procs
from tests.integration.control.unix_requests import unix_session

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 90.0  # servers, schema, world and six jobs on a loaded 2-core machine
STOP_DEADLINE = 30.0


@dataclass
class Demo:
    process: subprocess.Popen[str]
    output: list[str]
    socket: str
    stderr: Path


def _reader(process: subprocess.Popen[str]) -> tuple[threading.Thread, Queue[str]]:
    """A thread reads stdout into a queue (select() cannot see lines already in the text
    buffer); it ends at EOF, when the demo exits."""
    assert process.stdout is not None
    queue: Queue[str] = Queue()
    stdout = process.stdout

    def pump() -> None:
        for line in stdout:
            queue.put(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread, queue


def _wait_for_socket_line(
    process: subprocess.Popen[str], queue: Queue[str], stderr: Path
) -> tuple[list[str], str]:
    """Read stdout until the `control socket:` line, with a deadline."""
    lines: list[str] = []
    deadline = time.monotonic() + START_DEADLINE
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = queue.get(timeout=left)
        except Empty:
            break
        lines.append(line)
        if line.startswith("control socket: "):
            return lines, line.removeprefix("control socket: ").strip()
        if process.poll() is not None and queue.empty():
            raise AssertionError(f"demo exited early:\n{''.join(lines)}{stderr.read_text()}")
    raise AssertionError(f"no control socket line in time:\n{''.join(lines)}{stderr.read_text()}")


RunDemo = Callable[..., Demo]


@pytest.fixture
def run_demo(tmp_path: Path) -> Iterator[RunDemo]:
    started: list[tuple[subprocess.Popen[str], threading.Thread]] = []

    def run(**env: str) -> Demo:
        clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        stderr = tmp_path / "demo.stderr"
        with stderr.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "brewd", "demo"],
                cwd=REPO,
                env={**clean, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        reader, queue = _reader(process)
        started.append((process, reader))
        lines, socket = _wait_for_socket_line(process, queue, stderr)
        return Demo(process, lines, socket, stderr)

    yield run
    for process, reader in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        reader.join(timeout=10)  # EOF now: the reader is done with stdout before it is closed
        if process.stdout:
            process.stdout.close()


def _assert_summary(demo: Demo) -> None:
    text = "".join(demo.output)
    assert "36 cafés, 3,000 users" in text
    rows = {line.split()[0]: line for line in demo.output if line.split()[:1] != []}
    for job in ALL_JOBS:
        assert " succeeded " in rows[job], rows.get(job)
    assert "awarded" in rows["calculateBadges"]
    assert "Early Bird" in rows["calculateBadges"]
    assert "expired" in rows["expireUsers"]


def _assert_healthy(socket: str) -> None:
    with unix_session(socket) as session:
        reply = session.get("http://localhost/health", timeout=10)
    assert reply.status_code == 200
    body = reply.json()
    assert body["status"] == "healthy", body
    assert body["database"]["up"]
    assert body["redis"]["up"]


def _stop(demo: Demo, sig: signal.Signals = signal.SIGINT) -> None:
    demo.process.send_signal(sig)
    assert demo.process.wait(timeout=STOP_DEADLINE) == 0, demo.stderr.read_text()


def test_the_readme_demo_runs_every_job_serves_its_socket_and_stops_on_ctrl_c(
    run_demo: RunDemo,
) -> None:
    demo = run_demo()
    _assert_summary(demo)
    _assert_healthy(demo.socket)
    directory = str(Path(demo.socket).parent)  # the embedded servers' private directory
    with psycopg.connect(f"host={directory} user=brewd dbname=brewd") as conn:
        manual = conn.execute(
            "SELECT count(DISTINCT job) FROM job_runs"
            " WHERE trigger = 'manual' AND status = 'succeeded'"
        ).fetchone()
    assert manual == (len(ALL_JOBS),)
    servers = procs.find_by_cmdline(directory)  # postmaster, valkey and the reaper
    assert len(servers) == 3
    watch = procs.Watch(servers + [c for pid in servers for c in procs.children(pid)])
    try:
        _stop(demo)
        assert watch.wait_all_exited(STOP_DEADLINE) == []
    finally:
        watch.close()
    assert not Path(directory).exists()


def test_the_demo_uses_the_servers_it_is_given_and_stops_on_hangup(
    run_demo: RunDemo, pg_dsn: str, redis_url: str, cache: object
) -> None:
    demo = run_demo(DATABASE_URL=pg_dsn, REDIS_URL=redis_url)
    assert demo.output[0].startswith("Using the servers in DATABASE_URL and REDIS_URL")
    _assert_summary(demo)
    _assert_healthy(demo.socket)
    _stop(demo, signal.SIGHUP)  # the terminal closed: the demo must not live on without it
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM cafes").fetchone() == (36,)
    assert not Path(demo.socket).exists()


def test_the_demo_refuses_a_database_that_already_has_cafes(
    pg: psycopg.Connection[Any], pg_dsn: str, redis_url: str
) -> None:
    pg.execute("INSERT INTO cafes (name) VALUES ('A real café')")
    env = {**os.environ, "DATABASE_URL": pg_dsn, "REDIS_URL": redis_url}
    run = subprocess.run(
        [sys.executable, "-m", "brewd", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_DEADLINE,
    )
    assert run.returncode == 70
    assert run.stderr.strip().splitlines()[-1] == (
        "brewd: the database already has cafés: generate into an empty one"
    )
    assert pg.execute("SELECT count(*) AS n FROM cafes").fetchone() == {"n": 1}
