"""The control server's cap on simultaneous connections: the excess is closed on accept, the
daemon keeps answering, and the log says it once, not once per connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from loguru import logger

from brewd.cli.client import ControlClient
from tests.integration.control.conftest import StartControl
from tests.integration.control.stub_port import StubPort

CAP = 8
FLOOD = 60


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message}")
    yield lines
    logger.remove(handler)


def idle_connections(path: str, count: int) -> list[socket.socket]:
    conns = []
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)  # the kernel's backlog accepts it; the server decides what follows
        conns.append(sock)
    return conns


def closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_connections_over_the_cap_are_closed_and_status_still_answers(
    stub: StubPort, start_control: StartControl, log_lines: list[str]
) -> None:
    thread = start_control(stub, max_connections=CAP)
    flood = idle_connections(thread.socket_path, FLOOD)
    try:
        # The first CAP are held open (idle); the rest are closed as soon as accepted.
        shed = sum(closed_by_server(sock, within=10.0) for sock in flood[CAP:])
        assert shed == FLOOD - CAP
        # Once some idle ones end, the daemon answers at once.
        for sock in flood[:CAP]:
            sock.close()
        reply = ControlClient(thread.socket_path, timeout=10).request("GET", "/health")
        assert reply.status in (200, 503)
    finally:
        for sock in flood:
            sock.close()
    about_it = [line for line in log_lines if "max_connections" in line]
    assert len(about_it) == 1, about_it


def test_the_cap_leaves_room_for_a_request_while_idle_connections_are_held(
    stub: StubPort, start_control: StartControl
) -> None:
    thread = start_control(stub, max_connections=CAP)
    held = idle_connections(thread.socket_path, CAP - 1)
    try:
        reply = ControlClient(thread.socket_path, timeout=10).request("GET", "/health")
        assert reply.status in (200, 503)
    finally:
        for sock in held:
            sock.close()
