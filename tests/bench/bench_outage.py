"""Benchmark: how brewd behaves with PostgreSQL down or misconfigured (docs/failure-modes.md).

    .venv/bin/python -m tests.bench.bench_outage

A `brewd run` child whose database is a TCP port where nothing listens (PostgreSQL stopped):
the time of each brewctl command, and the WATCHDOG=1 pings it sends in 4 s with
WATCHDOG_USEC=2000000 (only where systemd-python is installed). Then `brewd db init` against a
missing database, a missing role, a refused port and an unresolvable host: status, lines, time.
Needs BREWD_TEST_PG_DSN (default: the local server) for the misconfigured cases.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from psycopg.conninfo import make_conninfo

from tests.helpers import has_systemd_python, wait_until
from tests.reliability.daemon import NotifyListener, clean_env

PG_DSN = os.environ.get("BREWD_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")
REDIS_URL = os.environ.get("BREWD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BREWCTL = str(Path(sys.executable).parent / "brewctl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(*command: str, env: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    return done.returncode, (done.stdout + done.stderr).strip(), time.monotonic() - started


def daemon_with_database_down(workdir: Path) -> None:
    notify = NotifyListener(workdir) if has_systemd_python() else None
    sock = str(workdir / "s.sock")
    env = clean_env(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres",
        REDIS_URL=REDIS_URL,
        BREWD_CONTROL_SOCKET=sock,
        BREWD_CONTROL_GROUP="root",
    )
    if notify is not None:
        env |= {"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000"}
    log = (workdir / "daemon.log").open("w")
    child = subprocess.Popen([sys.executable, "-m", "brewd", "run"], env=env, stderr=log)
    try:
        wait_until(lambda: os.path.exists(sock), 30, "the socket")
        job = "expireUsers"
        commands = [["health"], ["status"], ["trigger", job], ["history", job], ["pause", job]]
        for command in commands:
            code, output, took = timed(BREWCTL, *command, "--socket", sock, env=env)
            last = output.splitlines()[-1] if output else ""
            print(f"brewctl {' '.join(command):<22} exit {code}  {took:5.2f} s  {last[:110]}")
        if notify is not None:
            notify.drain()
            before = len(notify.watchdog_at)
            deadline = time.monotonic() + 4.0
            wait_until(lambda: notify.drain() and time.monotonic() > deadline, 10, "4 s")
            pings = len(notify.watchdog_at) - before
            print(f"WATCHDOG=1 pings in 4 s with the database down: {pings}")
        else:
            print("watchdog: not measured (systemd-python is not installed)")
    finally:
        child.terminate()
        child.wait(30)
        log.close()
        if notify is not None:
            notify.close()
    lines = (workdir / "daemon.log").read_text().splitlines()
    print(f"daemon log: {len(lines)} lines in all")


def db_init_cases() -> None:
    cases = {
        "missing database": make_conninfo(PG_DSN, dbname="brewd_bench_no_such_db"),
        "missing role": make_conninfo(PG_DSN, user="brewd_bench_no_such_role"),
        "refused port": make_conninfo(PG_DSN, host="127.0.0.1", port=str(free_port())),
        "unresolvable host": make_conninfo(PG_DSN, host="brewd-bench.invalid"),
    }
    for name, dsn in cases.items():
        env = clean_env(DATABASE_URL=dsn)
        code, output, took = timed(
            sys.executable, "-m", "brewd", "db", "init", "--config", "/dev/null", env=env
        )
        lines = len(output.splitlines())
        print(f"db init, {name:<18} exit {code}  {took:5.2f} s  {lines} line(s): {output[:90]}")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="brewd-bo", dir="/tmp"))
    try:
        daemon_with_database_down(workdir)
        db_init_cases()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
