"""`brewd run` as systemd sees it: notify datagrams on a socket the test binds as NOTIFY_SOCKET."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.native_journal import Collector, Journal

pytest.importorskip("systemd.daemon", reason="systemd-python is not installed (brewd[systemd])")

WATCHDOG_USEC = 2_000_000
PING_S = WATCHDOG_USEC / 2 / 1e6  # what the daemon aims for: half of WATCHDOG_USEC
STATUS = re.compile(r"^(next: \w+ in \d+s|scheduler disabled|no job enabled); \d+ failed in the")

Message = dict[str, str]


@dataclass
class Received:
    at: float  # monotonic time of arrival
    fields: Message


class Manager:
    """The test's stand-in for systemd: the daemon process and the datagrams it sends."""

    def __init__(self, notify: socket.socket, process: subprocess.Popen[str], log: Path) -> None:
        self.notify, self.process, self.log = notify, process, log

    def output(self) -> str:
        return self.log.read_text()

    def next(self, deadline_s: float) -> Received | None:
        """The next datagram, or None when the deadline passes first."""
        self.notify.settimeout(max(deadline_s, 0.001))
        try:
            data = self.notify.recv(4096).decode()
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.split("\n") if line)
        return Received(time.monotonic(), fields)

    def wait_for(self, match: Callable[[Message], bool], timeout: float, what: str) -> Received:
        """Datagrams are read (and dropped) until one matches; fail after `timeout`."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            received = self.next(min(left, 1.0))  # in slices, to notice a daemon that died
            if received is not None and match(received.fields):
                return received
            if received is None and self.process.poll() is not None:
                break
        raise AssertionError(f"no {what} within {timeout}s; daemon output:\n{self.output()}")

    def collect(self, seconds: float) -> list[Received]:
        """Every datagram that arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        out = []
        while (left := deadline - time.monotonic()) > 0:
            received = self.next(left)
            if received is not None:
                out.append(received)
        return out


def start(
    pg_dsn: str, redis_url: str, workdir: Path, notify: socket.socket, launcher: list[str]
) -> Manager:
    config = workdir / "brewd.toml"
    config.write_text('[scheduler]\ntimezone = "UTC"\n')
    env = {
        **os.environ,
        "DATABASE_URL": pg_dsn,
        "REDIS_URL": redis_url,
        "BREWD_CONTROL_SOCKET": control_socket(notify),
        "BREWD_CONTROL_GROUP": "root",
        "NOTIFY_SOCKET": notify.getsockname(),
        "WATCHDOG_USEC": str(WATCHDOG_USEC),
        "LOG_LEVEL": "debug",
    }
    for name in ("JOURNAL_STREAM", "WATCHDOG_PID"):
        env.pop(name, None)
    log = workdir / "daemon.log"
    with log.open("w") as out:
        if "--journal" in launcher:  # stderr is the journal stream, as under systemd
            launcher = [arg for arg in launcher if arg != "--journal"]
            st = os.fstat(out.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        process = subprocess.Popen(
            [*launcher, "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    return Manager(notify, process, log)


def control_socket(notify: socket.socket) -> str:
    return str(Path(notify.getsockname()).parent / "control.sock")


Launch = Callable[..., Manager]
PYTHON_M_BREWD = [sys.executable, "-m", "brewd"]


@pytest.fixture
def launch(pg_dsn: str, redis_url: str, tmp_path: Path) -> Iterator[Launch]:
    """Starts `brewd run` (by default `python -m brewd run`) with NOTIFY_SOCKET and
    WATCHDOG_USEC set; kills it if a test did not stop it."""
    short = tempfile.mkdtemp(prefix="brewd-", dir="/tmp")  # AF_UNIX paths must stay short
    started: list[Manager] = []

    def launch(launcher: list[str] = PYTHON_M_BREWD) -> Manager:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(os.path.join(short, "notify"))  # bound before the start, as systemd's
        manager = start(pg_dsn, redis_url, tmp_path, listener, launcher)
        started.append(manager)
        return manager

    try:
        yield launch
    finally:
        for manager in started:
            if manager.process.poll() is None:
                manager.process.kill()
                manager.process.wait(10)
            manager.notify.close()
        shutil.rmtree(short, ignore_errors=True)


def ready(manager: Manager) -> Received:
    return manager.wait_for(lambda f: f.get("READY") == "1", 60, "READY=1")


def test_ready_with_a_one_line_status_then_watchdog_at_half_the_interval(
    launch: Launch,
) -> None:
    manager = launch()
    first = ready(manager)
    assert STATUS.match(first.fields["STATUS"]), first.fields
    pings = [r for r in manager.collect(6 * PING_S) if r.fields.get("WATCHDOG") == "1"]
    assert len(pings) >= 4, manager.output()
    gaps = [b.at - a.at for a, b in itertools.pairwise(pings)]
    # systemd kills the unit when a gap reaches WATCHDOG_USEC; pinging much faster than
    # half of it would mean a busy loop.
    assert max(gaps) < WATCHDOG_USEC / 1e6, gaps
    assert min(gaps) > 0.7 * PING_S, gaps
    statuses = [r.fields["STATUS"] for r in manager.collect(2 * PING_S) if "STATUS" in r.fields]
    assert statuses, "STATUS= is kept current while the daemon runs"
    assert all(STATUS.match(s) for s in statuses), statuses


def test_sighup_sends_reloading_then_ready(launch: Launch) -> None:
    manager = launch()
    ready(manager)
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    manager.process.send_signal(signal.SIGHUP)
    reloading = manager.wait_for(lambda f: f.get("RELOADING") == "1", 15, "RELOADING=1")
    assert int(reloading.fields["MONOTONIC_USEC"]) >= before
    again = ready(manager)
    assert STATUS.match(again.fields["STATUS"])
    assert "configuration reloaded" in manager.output()
    assert manager.process.poll() is None


def test_sigterm_sends_stopping_extends_the_timeout_and_exits_0(
    launch: Launch,
) -> None:
    manager = launch()
    ready(manager)
    manager.process.send_signal(signal.SIGTERM)
    stopping = manager.wait_for(lambda f: f.get("STOPPING") == "1", 15, "STOPPING=1")
    assert stopping.fields["STATUS"].startswith("stopping")
    rest = manager.collect(0.5)  # EXTEND_TIMEOUT_USEC comes right after STOPPING=1
    extend = [r.fields for r in rest if "EXTEND_TIMEOUT_USEC" in r.fields]
    assert extend, rest
    assert int(extend[0]["EXTEND_TIMEOUT_USEC"]) > 0
    assert manager.process.wait(60) == 0, manager.output()


def test_a_stuck_loop_stops_the_watchdog_and_a_freed_one_resumes_it(
    launch: Launch, pg_dsn: str
) -> None:
    """The loop blocks on the ledger (a lock the test holds): the daemon is up (READY=1 came
    from the main thread) but the loop does not go round, so WATCHDOG=1 must not come."""
    with psycopg.connect(pg_dsn) as blocker:
        blocker.execute("LOCK TABLE job_runs IN ACCESS EXCLUSIVE MODE")
        manager = launch()
        ready(manager)
        during = manager.collect(3 * WATCHDOG_USEC / 1e6)
        assert not [r for r in during if "WATCHDOG" in r.fields], manager.output()
        blocker.rollback()
    manager.wait_for(lambda f: f.get("WATCHDOG") == "1", 30, "WATCHDOG=1 after the loop is freed")


def test_under_systemd_without_systemd_python_it_stops_at_start_with_one_line(
    tmp_path: Path,
) -> None:
    child = (
        "import sys; sys.modules['systemd.daemon'] = None; "  # as if the extra were not installed
        "from brewd.cli.brewd import main; sys.exit(main(['run']))"
    )
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "BREWD_CONFIG": "/dev/null"}
    result = subprocess.run(
        [sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 78, result.stderr  # RestartPreventExitStatus: no restart loop
    assert result.stderr.count("\n") == 1, result.stderr
    assert "pip install 'brewd[systemd]'" in result.stderr


MDWE_RUN = """
import ctypes, runpy, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if ctypes.CDLL(None).prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    sys.exit(77)
sys.argv[0] = "brewd"
runpy.run_module("brewd", run_name="__main__")
"""


def test_the_daemon_runs_under_memory_deny_write_execute(launch: Launch) -> None:
    """The unit's MemoryDenyWriteExecute=yes, as the kernel's own PR_SET_MDWE."""
    probe = subprocess.run([sys.executable, "-c", MDWE_RUN, "--version"], capture_output=True)
    if probe.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    manager = launch([sys.executable, "-c", MDWE_RUN])
    ready(manager)
    manager.wait_for(lambda f: f.get("WATCHDOG") == "1", 10, "WATCHDOG=1")
    brewctl("trigger", "expirePokes", socket_path=control_socket(manager.notify))
    manager.process.send_signal(signal.SIGTERM)
    assert manager.process.wait(60) == 0, manager.output()


def brewctl(*args: str, socket_path: str) -> str:
    command = [str(Path(sys.executable).parent / "brewctl"), "--socket", socket_path, *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_job_lines_reach_the_journal_with_their_fields(launch: Launch, tmp_path: Path) -> None:
    """`journalctl -u brewd BREWD_JOB=expireUsers` works: the daemon, with stderr on the
    journal stream, sends native entries to /run/systemd/journal/socket, which a private
    mount namespace points at the test's socket."""
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a mount namespace here (needs root and unshare)")
    run = tmp_path / "run"
    (run / "systemd" / "journal").mkdir(parents=True)
    journal = Collector(Journal(str(run / "systemd" / "journal" / "socket")))
    bind_run = 'mount --bind "$0" /run && exec "$@"'
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", bind_run, str(run)]
    manager = launch([*unshare, *PYTHON_M_BREWD, "--journal"])
    ready(manager)
    output = brewctl("--json", "trigger", "expireUsers", socket_path=control_socket(manager.notify))
    run_id = str(json.loads(output)["id"])
    entry = journal.wait_for(
        lambda e: e.get("BREWD_RUN_ID") == run_id and e.get("BREWD_EVENT") == "job_finished", 30
    )
    assert entry["BREWD_JOB"] == "expireUsers", entry
    assert entry["SYSLOG_IDENTIFIER"] == "brewd"
    assert entry["PRIORITY"] == "6"
    assert entry["MESSAGE"].startswith("expireUsers succeeded in ")
    assert entry["CODE_FILE"].endswith("brewd/runs/runner.py")
    assert int(entry["CODE_LINE"]) > 0
    assert entry["CODE_FUNC"]
    manager.process.send_signal(signal.SIGTERM)
    assert manager.process.wait(60) == 0
    journal.stop()
    journal.journal.sock.close()
    assert "expireUsers succeeded" not in manager.output()  # the journal, not stderr, got it
