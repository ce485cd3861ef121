"""sd_notify through systemd-python, received on a datagram socket the test binds."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from brewd.adapters.systemd import Notifier, require_systemd_support
from brewd.core.errors import BrewdError, ConfigError

DEADLINE_S = 5.0
pytest.importorskip("systemd.daemon", reason="systemd-python is not installed (brewd[systemd])")


class NotifySocket:
    """What systemd's manager listens on: one datagram per sd_notify call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(DEADLINE_S)

    def receive(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def nothing_pending(self) -> bool:
        """sd_notify is synchronous: whatever was sent is already queued."""
        return not select.select([self.sock], [], [], 0)[0]


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A notify socket, named in NOTIFY_SOCKET of the process (where libsystemd reads it)."""
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    monkeypatch.setenv("NOTIFY_SOCKET", listener.path)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    try:
        yield listener
    finally:
        listener.sock.close()


def test_ready_with_status(notify: NotifySocket) -> None:
    notifier = Notifier(os.environ)
    assert notifier.enabled
    notifier.ready("6 jobs; next expirePokes in 2 min; 0 failures in the last hour")
    assert notify.receive() == {
        "READY": "1",
        "STATUS": "6 jobs; next expirePokes in 2 min; 0 failures in the last hour",
    }


def test_status_is_kept_on_one_line(notify: NotifySocket) -> None:
    Notifier(os.environ).status("degraded:\ndatabase down\nREADY=1")
    assert notify.receive() == {"STATUS": "degraded: database down READY=1"}


def test_watchdog_stopping_and_extend_timeout(notify: NotifySocket) -> None:
    notifier = Notifier(os.environ)
    notifier.watchdog()
    notifier.stopping("stopping: waiting for 2 running jobs")
    notifier.extend_timeout(31.5)
    assert notify.receive() == {"WATCHDOG": "1"}
    assert notify.receive() == {"STOPPING": "1", "STATUS": "stopping: waiting for 2 running jobs"}
    assert notify.receive() == {"EXTEND_TIMEOUT_USEC": "31500000"}


def test_reloading_carries_the_monotonic_time(notify: NotifySocket) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    Notifier(os.environ).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    fields = notify.receive()
    assert fields["RELOADING"] == "1"
    assert before <= int(fields["MONOTONIC_USEC"]) <= after


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_extend_timeout_rejects_non_positive(notify: NotifySocket, seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds must be > 0"):
        Notifier(os.environ).extend_timeout(seconds)
    assert notify.nothing_pending()


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("2000000", None, 1.0),
        ("30000000", "self", 15.0),
        ("2000000", "1", None),  # systemd meant another process
        ("0", None, None),
        ("-5", None, None),
        ("soon", None, None),
        (None, None, None),
    ],
)
def test_watchdog_interval(
    notify: NotifySocket,
    monkeypatch: pytest.MonkeyPatch,
    usec: str | None,
    pid: str | None,
    expected: float | None,
) -> None:
    if usec is not None:
        monkeypatch.setenv("WATCHDOG_USEC", usec)
    if pid is not None:
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)
    assert Notifier(os.environ).watchdog_interval == expected


def test_without_notify_socket_everything_is_a_silent_no_op(notify: NotifySocket) -> None:
    # The process still has NOTIFY_SOCKET; the mapping given does not: nothing may be sent.
    notifier = Notifier({"WATCHDOG_USEC": "2000000"})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.status("x")
    notifier.watchdog()
    notifier.reloading()
    notifier.extend_timeout(5)
    notifier.stopping("x")
    assert notify.nothing_pending()


def test_a_mapping_that_disagrees_with_the_process_is_refused(notify: NotifySocket) -> None:
    with pytest.raises(BrewdError, match="NOTIFY_SOCKET differs from the process environment"):
        Notifier({"NOTIFY_SOCKET": "/run/other/notify"})


def test_abstract_socket_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"brewd-test-notify-{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(DEADLINE_S)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        Notifier(os.environ).ready("up")
        assert listener.recv(4096) == b"READY=1\nSTATUS=up"
    finally:
        listener.close()


def test_a_vanished_socket_is_logged_once_and_never_raises(
    notify: NotifySocket, capfd: pytest.CaptureFixture[str]
) -> None:
    notifier = Notifier(os.environ)
    notify.sock.close()
    os.unlink(notify.path)
    handler = logger.add(sys.stderr, format="{extra[event]}: {message}", level="WARNING")
    try:
        for _ in range(3):
            notifier.watchdog()
    finally:
        logger.remove(handler)
    lines = [line for line in capfd.readouterr().err.splitlines() if "notify_failed" in line]
    assert lines == [f"notify_failed: sd_notify to {notify.path} failed: No such file or directory"]


def test_a_socket_nobody_reads_never_freezes_the_daemon(notify: NotifySocket) -> None:
    """systemd-python's notify holds the GIL through a blocking send: once the socket's queue
    is full (net.unix.max_dgram_qlen, 10 by default; PID 1 busy), every thread of the daemon
    would stop, control API included (seen: a status request unanswered for 30 s). In a child
    process, so that a regression cannot freeze the test run itself."""
    program = (
        "import os, sys\n"
        "from loguru import logger\n"
        "from brewd.adapters.systemd import Notifier\n"
        "logger.remove(); logger.add(sys.stderr, format='{extra[event]}: {message}')\n"
        "notifier = Notifier(os.environ)\n"
        "for i in range(50): notifier.status(f'turn {i}')\n"
        "print('done')\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    assert child.stdout == "done\n", child.stderr
    failures = [line for line in child.stderr.splitlines() if "notify_failed" in line]
    assert failures == [
        f"notify_failed: sd_notify to {notify.path} failed: its queue is full"
        " (systemd is not reading)"
    ]
    received = []
    while not notify.nothing_pending():
        received.append(notify.receive()["STATUS"])
    assert received[0] == "turn 0"
    assert len(received) < 50


# -- without systemd-python --------------------------------------------------------------------


@pytest.fixture
def without_systemd_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `import systemd.daemon` fail as it does where the extra is not installed."""
    monkeypatch.setitem(sys.modules, "systemd.daemon", None)


@pytest.mark.usefixtures("without_systemd_python")
@pytest.mark.parametrize("variable", ["NOTIFY_SOCKET", "JOURNAL_STREAM"])
def test_under_systemd_a_missing_library_stops_with_what_to_install(variable: str) -> None:
    with pytest.raises(ConfigError) as info:  # exit 78: no restart loop under systemd
        require_systemd_support({variable: "/run/systemd/notify"})
    message = str(info.value)
    assert "\n" not in message
    assert "pip install 'brewd[systemd]'" in message
    assert "libsystemd-dev" in message


@pytest.mark.usefixtures("without_systemd_python")
def test_off_systemd_a_missing_library_is_fine() -> None:
    require_systemd_support({"HOME": "/root"})
    assert not Notifier({}).enabled


@pytest.mark.usefixtures("without_systemd_python")
def test_notifier_refuses_to_start_blind(notify: NotifySocket) -> None:
    with pytest.raises(BrewdError, match="systemd-python is not installed"):
        Notifier(os.environ)


def test_with_the_library_installed_systemd_support_is_satisfied() -> None:
    require_systemd_support({"NOTIFY_SOCKET": "/run/systemd/notify", "JOURNAL_STREAM": "8:9"})
