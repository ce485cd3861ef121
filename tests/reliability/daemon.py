"""`brewd run` as a subprocess for fault tests: its socket, its log, its signals, its exit."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brewd.cli.client import ControlClient, DaemonUnreachable, Reply
from tests.helpers import wait_until

# Variables of the test's own environment that would change how the daemon runs.
SCRUBBED = (
    "NOTIFY_SOCKET",
    "JOURNAL_STREAM",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "DATABASE_URL",
    "REDIS_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "ENABLE_SCHEDULER",
    "ENABLE_PROACTIVE_MESSAGES",
    "LOG_LEVEL",
    "BREWD_CONFIG",
    # the original scheduler's names, read when DATABASE_URL / REDIS_URL are unset
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
)


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without anything that configures brewd, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env = {k: v for k, v in env.items() if not k.startswith(("PG", "BREWD_")) or k == "PGTZ"}
    return env | extra


def daemon_env(**extra: str) -> dict[str, str]:
    return clean_env(BREWD_CONTROL_GROUP="root", LOG_LEVEL="debug") | extra


class DaemonProcess:
    """One `brewd run` child, with stdout and stderr in one log file."""

    def __init__(
        self, workdir: Path, config: str, env: Mapping[str, str], preload: Mapping[str, str]
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="brewd-r", dir="/tmp"))  # short AF_UNIX path
        self.socket = str(self.dir / "s.sock")
        self.config = workdir / f"brewd-{self.dir.name}.toml"
        self.config.write_text(config)
        self.log = workdir / f"daemon-{self.dir.name}.log"
        self.env = {**env, **preload, "BREWD_CONTROL_SOCKET": self.socket}
        self.process: subprocess.Popen[bytes] | None = None
        self.client = ControlClient(self.socket, timeout=30)
        self.nofile: int | None = None  # RLIMIT_NOFILE for the child (set before start)

    def start(self, wait: bool = True) -> DaemonProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "brewd", "run", "--config", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limit_files if self.nofile else None,
            )
        if wait:
            self.wait_answering()
        return self

    def _limit_files(self) -> None:
        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def wait_answering(self, timeout: float = 30.0) -> None:
        wait_until(lambda: self.answers() or self.exited(), timeout, "the control socket")
        assert not self.exited(), self.output()

    def answers(self) -> bool:
        try:
            return self.client.request("GET", "/health").status in (200, 503)
        except DaemonUnreachable:
            return False

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def request(self, method: str, path: str, **query: str) -> Reply:
        return self.client.request(method, path, query or None, wait=method == "POST")

    def trigger(self, job: str, wait: bool = True) -> Reply:
        query = {} if wait else {"wait": "false"}
        return self.request("POST", f"/api/scheduler/trigger/{job}", **query)

    def health(self) -> Reply:
        return self.request("GET", "/health")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait: the exit status."""
        self.signal(signal.SIGTERM)
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen child must be able to die
            self.process.kill()
            self.process.wait(10)

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_brewd(
    *args: str, env: Mapping[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """A short brewd command (check-config, run with a bad config) to completion."""
    return subprocess.run(
        [sys.executable, "-m", "brewd", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_brewctl(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "brewctl"), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class NotifyListener:
    """A NOTIFY_SOCKET for the child: what systemd would read (READY=1, STATUS=...)."""

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.seen: list[dict[str, str]] = []
        self.watchdog_at: list[float] = []  # monotonic time each WATCHDOG=1 was drained

    def drain(self) -> list[dict[str, str]]:
        """Read what arrived; drain often (e.g. from wait_until) for accurate watchdog times."""
        while True:
            try:
                data = self.sock.recv(65536).decode()
            except BlockingIOError:
                return self.seen
            message = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
            if message.get("WATCHDOG") == "1":
                self.watchdog_at.append(time.monotonic())
            self.seen.append(message)

    def statuses(self) -> list[str]:
        return [m["STATUS"] for m in self.drain() if "STATUS" in m]

    def close(self) -> None:
        self.sock.close()


def as_json(reply: Reply) -> Any:
    return reply.body
