"""sd_notify through systemd-python (READY, STATUS, WATCHDOG, ...); a no-op off systemd."""

from __future__ import annotations

import errno
import importlib
import os
import select
import socket
import time
from collections.abc import Mapping
from types import ModuleType
from typing import Protocol

from loguru import logger

from brewd.core.errors import BrewdError, ConfigError

INSTALL_HINT = (
    "brewd runs under systemd but systemd-python is not installed: "
    "pip install 'brewd[systemd]' (needs libsystemd-dev, pkg-config and a C compiler)"
)


def _systemd_daemon() -> ModuleType | None:
    try:  # imported by name: it is an optional extra, typed or not
        return importlib.import_module("systemd.daemon")
    except ImportError:
        return None


def under_systemd(environ: Mapping[str, str]) -> bool:
    """True when systemd started us: it sets NOTIFY_SOCKET (Type=notify) or JOURNAL_STREAM."""
    return bool(environ.get("NOTIFY_SOCKET") or environ.get("JOURNAL_STREAM"))


def require_systemd_support(environ: Mapping[str, str]) -> None:
    """Stop at start, with what to install, rather than let systemd time out waiting for READY=1.

    A ConfigError, so exit status 78: the unit's RestartPreventExitStatus=78 spares a restart
    loop that no restart can fix.
    """
    if under_systemd(environ) and _systemd_daemon() is None:
        raise ConfigError(INSTALL_HINT)


def one_line(text: str) -> str:
    """`text` on one line: a newline in STATUS= would start another assignment (e.g. READY=1)."""
    return " ".join(text.split())


def parse_watchdog(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises).

    None when there is no watchdog, it is meant for another process (WATCHDOG_PID), or the
    value is not a positive integer.
    """
    watchdog_pid = environ.get("WATCHDOG_PID")
    if watchdog_pid and watchdog_pid.strip() != str(pid):
        return None
    text = environ.get("WATCHDOG_USEC", "").strip()
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None  # bounded: a huge number would overflow the division below
    usec = int(text)
    return usec / 2 / 1_000_000 if usec > 0 else None


def has_room(path: str) -> bool:
    """Would a datagram to the notify socket at `path` be queued without blocking?

    systemd-python's notify holds the GIL through a blocking send: with the socket's queue
    full (PID 1 busy; net.unix.max_dgram_qlen) the whole daemon would freeze, control API
    included, until systemd reads. The kernel says whether the queue has room to a connected
    socket's poll; a message that would block is dropped instead (a STATUS is superseded by
    the next, a WATCHDOG=1 is sent again within half the watchdog interval). A socket that
    cannot be reached answers True: notify then reports the real error.
    """
    address = "\0" + path[1:] if path.startswith("@") else path  # '@': the abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK) as probe:
        try:
            probe.connect(address)
        except OSError:
            return True
        poller = select.poll()
        poller.register(probe, select.POLLOUT)
        return bool(poller.poll(0))


class StatusNotifier(Protocol):
    """What the scheduling loop tells systemd (Notifier is one; tests may give their own)."""

    @property
    def watchdog_interval(self) -> float | None: ...

    def watchdog(self) -> None: ...

    def status(self, text: str) -> None: ...


class Notifier:
    """Tells systemd how the daemon is doing; every method is a silent no-op off systemd.

    libsystemd's sd_notify reads NOTIFY_SOCKET from the *process* environment, not from the
    mapping given here, so the mapping must be the process environment (os.environ) whenever
    it names a socket; a mapping that disagrees with the process is refused rather than
    silently notifying the wrong socket.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._socket = environ.get("NOTIFY_SOCKET") or None
        self._watchdog_interval = parse_watchdog(environ, os.getpid()) if self._socket else None
        self._daemon: ModuleType | None = None
        self._failing = False
        if self._socket:
            if os.environ.get("NOTIFY_SOCKET") != self._socket:
                raise BrewdError(
                    "NOTIFY_SOCKET differs from the process environment; sd_notify reads the "
                    "process environment, so pass os.environ"
                )
            self._daemon = _systemd_daemon()
            if self._daemon is None:
                raise ConfigError(INSTALL_HINT)

    @property
    def enabled(self) -> bool:
        return self._daemon is not None

    @property
    def watchdog_interval(self) -> float | None:
        return self._watchdog_interval

    def ready(self, status: str) -> None:
        self._send("READY=1", f"STATUS={one_line(status)}")

    def status(self, text: str) -> None:
        self._send(f"STATUS={one_line(text)}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self, status: str) -> None:
        self._send("STOPPING=1", f"STATUS={one_line(status)}")

    def reloading(self) -> None:
        # systemd 253+ wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload); older ones
        # ignore it. CLOCK_MONOTONIC is the clock systemd compares it with.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the configuration")

    def extend_timeout(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"extend_timeout: seconds must be > 0, got {seconds!r}")
        self._send(f"EXTEND_TIMEOUT_USEC={round(seconds * 1_000_000)}")

    def _send(self, *assignments: str) -> None:
        if self._daemon is None or self._socket is None:
            return
        try:
            if not has_room(self._socket):
                raise OSError(errno.EAGAIN, "its queue is full (systemd is not reading)")
            self._daemon.notify("\n".join(assignments))
        except OSError as exc:
            # A lost notification must never stop the daemon; say so once, not every 15 s.
            if not self._failing:
                logger.bind(event="notify_failed").warning(
                    "sd_notify to {} failed: {}", self._socket, exc.strerror or exc
                )
            self._failing = True
        else:
            self._failing = False
