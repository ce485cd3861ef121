"""Test helpers: a fake clock, and waiting on a condition with a deadline (never a bare sleep)."""

from __future__ import annotations

import importlib
import os
import pwd
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


class FakeClock:
    """Wall and monotonic time that move only when the test says so."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._mono = 1_000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def jump_wall(self, seconds: float) -> None:
        """The wall clock is stepped (NTP, an operator); monotonic time does not move."""
        self._now += timedelta(seconds=seconds)


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `condition` until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        pause.wait(0.01)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on now (the kernel's pick, released for the caller)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def has_systemd_python() -> bool:
    """True when the systemd extra (systemd-python) is installed. Not find_spec("systemd"): run
    from the repository, its own systemd/ folder is found as a namespace package."""
    try:
        importlib.import_module("systemd.daemon")
    except ImportError:
        return False
    return True


NO_SYSTEMD_PYTHON = (
    "systemd-python is not installed (brewd[systemd]); the daemon refuses NOTIFY_SOCKET without it"
)


def peer_of_this_test() -> str:
    """How the daemon names this process as a control-socket peer: "uid N (name)" (root or not)."""
    uid = os.geteuid()
    try:
        return f"uid {uid} ({pwd.getpwuid(uid).pw_name})"
    except KeyError:
        return f"uid {uid}"


def one(cursor: Any) -> Any:
    """The one row a query returns (an AssertionError if it returned none)."""
    row = cursor.fetchone()
    assert row is not None, "the query returned no row"
    return row
