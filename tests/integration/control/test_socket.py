"""The socket file: mode and group, a stale one replaced, a live one or a plain file kept."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Iterator

import pytest
from loguru import logger

from brewd.adapters.metrics import Metrics
from brewd.cli.client import ControlClient
from brewd.control.server import ControlThread
from brewd.core.config import ControlConfig
from brewd.core.errors import BrewdError
from tests.integration.control.conftest import StartControl
from tests.integration.control.stub_port import StubPort


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(str(m)), level="WARNING", format="{message}")
    yield messages
    logger.remove(sink)


def test_socket_is_0660_with_the_configured_group(
    stub: StubPort, start_control: StartControl
) -> None:
    path = start_control(stub, group="nogroup").socket_path
    info = os.stat(path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == 65534  # nogroup


def test_a_missing_group_is_a_warning_and_the_process_group_is_kept(
    stub: StubPort, start_control: StartControl, warnings_logged: list[str]
) -> None:
    path = start_control(stub, group="no-such-group-here").socket_path
    assert os.stat(path).st_gid == os.getegid()
    assert any("'no-such-group-here' does not exist" in m for m in warnings_logged)
    assert ControlClient(path).request("GET", "/health").status == 200


def test_a_stale_socket_from_a_crashed_run_is_replaced(
    stub: StubPort, start_control: StartControl, sock_dir: str
) -> None:
    path = os.path.join(sock_dir, "brewd.sock")
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(path)  # bound, never listening, then gone: what a killed daemon leaves behind
    dead.close()
    start_control(stub, socket=path)
    assert ControlClient(path).request("GET", "/health").status == 200


def test_a_live_socket_is_never_stolen(stub: StubPort, sock_dir: str) -> None:
    path = os.path.join(sock_dir, "brewd.sock")
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(path)
        other.listen()
        inode = os.stat(path).st_ino
        thread = ControlThread(stub, Metrics(), ControlConfig(socket=path))
        with pytest.raises(BrewdError, match="another brewd is already listening on"):
            thread.start(timeout=10)
        assert os.stat(path).st_ino == inode
        with socket.socket(socket.AF_UNIX) as probe:
            probe.connect(path)  # still the other process's socket


def test_a_file_that_is_not_a_socket_is_left_alone(stub: StubPort, sock_dir: str) -> None:
    path = os.path.join(sock_dir, "brewd.sock")
    with open(path, "w") as f:
        f.write("precious")
    thread = ControlThread(stub, Metrics(), ControlConfig(socket=path))
    with pytest.raises(BrewdError, match="is not a socket"):
        thread.start(timeout=10)
    with open(path) as f:
        assert f.read() == "precious"


def test_two_servers_starting_at_once_get_one_socket(stub: StubPort, sock_dir: str) -> None:
    path = os.path.join(sock_dir, "brewd.sock")
    threads = [ControlThread(stub, Metrics(), ControlConfig(socket=path)) for _ in range(2)]
    errors: list[BrewdError] = []

    def start(thread: ControlThread) -> None:
        try:
            thread.start(timeout=10)
        except BrewdError as exc:
            errors.append(exc)

    starters = [threading.Thread(target=start, args=(t,)) for t in threads]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(15)
    try:
        assert len(errors) == 1
        assert "already listening" in str(errors[0])
        assert ControlClient(path).request("GET", "/health").status == 200
    finally:
        for thread in threads:
            thread.stop(timeout=5)


def test_stop_removes_the_socket_but_not_a_successors(
    stub: StubPort, start_control: StartControl, sock_dir: str
) -> None:
    first = start_control(stub, socket=os.path.join(sock_dir, "a.sock"))
    first.stop(timeout=5)
    assert not os.path.exists(first.socket_path)
    second = start_control(stub, socket=os.path.join(sock_dir, "b.sock"))
    os.unlink(second.socket_path)
    successor = socket.socket(socket.AF_UNIX)
    successor.bind(second.socket_path)  # another daemon took the path meanwhile
    second.stop(timeout=5)
    assert os.path.exists(second.socket_path)
    successor.close()


def test_a_missing_directory_is_created(
    stub: StubPort, start_control: StartControl, sock_dir: str
) -> None:
    path = os.path.join(sock_dir, "run", "brewd.sock")
    start_control(stub, socket=path)
    assert ControlClient(path).request("GET", "/health").status == 200


def test_a_path_too_long_for_a_unix_socket_is_a_clear_error(stub: StubPort, sock_dir: str) -> None:
    path = os.path.join(sock_dir, "x" * 120, "brewd.sock")
    thread = ControlThread(stub, Metrics(), ControlConfig(socket=path))
    with pytest.raises(BrewdError, match="too long"):
        thread.start(timeout=10)
