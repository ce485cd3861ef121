"""Malformed, huge, slow and concurrent requests: JSON 4xx, no traceback, nothing stuck."""

from __future__ import annotations

import threading

import pytest

from brewd.cli.client import ControlClient, Reply
from brewd.core.errors import BrewdError
from tests.helpers import wait_until
from tests.integration.control import rawhttp
from tests.integration.control.conftest import StartControl
from tests.integration.control.stub_port import StubPort


def test_unknown_route_is_404_json(client: ControlClient) -> None:
    for path in ("/nope", "/api/scheduler", "/api/scheduler/jobs//runs", "/%ff%fe", "/../etc"):
        reply = client.request("GET", path)
        assert reply.status == 404, path
        assert set(reply.body) == {"error"}


def test_wrong_method_is_405_json_with_allow(client: ControlClient) -> None:
    reply = client.request("DELETE", "/api/scheduler/status")
    assert reply.status == 405
    assert "error" in reply.body
    trigger = client.request("GET", "/api/scheduler/trigger/expirePokes")
    assert trigger.status == 405
    request = b"PUT /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nHost: x\r\n\r\n"
    status, headers, body = rawhttp.exchange(client.socket_path, request)
    assert (status, headers["Allow"], set(body)) == (405, "POST", {"error"})


@pytest.mark.parametrize(
    "query",
    [{"wait": "maybe"}, {"wait": ""}, "wait=true&wait=false"],
)
def test_malformed_query_is_400(client: ControlClient, query: dict[str, str] | str) -> None:
    if isinstance(query, str):
        reply = client.request("POST", f"/api/scheduler/trigger/expirePokes?{query}")
    else:
        reply = client.request("POST", "/api/scheduler/trigger/expirePokes", query)
    assert reply.status == 400
    assert "wait" in reply.body["error"]


def test_garbage_request_line_is_a_json_400(client: ControlClient) -> None:
    status, headers, body = rawhttp.exchange(client.socket_path, b"\x16\x03\x01 GARBAGE\r\n\r\n")
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    assert body["error"].startswith("bad request")


def test_oversized_header_is_a_json_4xx(client: ControlClient) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    status, _, body = rawhttp.exchange(client.socket_path, request)
    assert 400 <= status < 500
    assert "error" in body


def test_body_over_the_limit_is_413(stub: StubPort, start_control: StartControl) -> None:
    path = start_control(stub, max_body_bytes=1024).socket_path
    body = b"x" * 5000
    head = (
        b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    status, _, reply = rawhttp.exchange(path, head + body)
    assert status == 413
    assert "error" in reply
    assert "expirePokes" not in stub.paused


def test_a_body_within_the_limit_is_read_and_ignored(client: ControlClient, stub: StubPort) -> None:
    request = (
        b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    status, _, body = rawhttp.exchange(client.socket_path, request)
    assert (status, body["paused"]) == (200, True)


def test_a_slow_body_is_408(stub: StubPort, start_control: StartControl) -> None:
    path = start_control(stub, request_timeout=0.5).socket_path
    with rawhttp.connect(path, timeout=10) as sock:
        sock.sendall(
            b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 100\r\n\r\nonly ten b"
        )
        status, _, body = rawhttp.parse(rawhttp.read_response(sock))
    assert status == 408
    assert "error" in body
    assert "expirePokes" not in stub.paused


def test_a_request_head_that_never_ends_is_dropped(
    stub: StubPort, start_control: StartControl
) -> None:
    path = start_control(stub, request_timeout=0.5).socket_path
    with rawhttp.connect(path, timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        assert rawhttp.read_all(sock) == b""  # closed by the server, long before our 10 s


def test_an_unexpected_error_is_a_logged_json_500_without_traceback(
    client: ControlClient, stub: StubPort
) -> None:
    stub.crash_with = ZeroDivisionError("division by zero")
    reply = client.request("GET", "/api/scheduler/status")
    assert reply.status == 500
    assert reply.body == {"error": "internal error (logged by the daemon)"}
    assert b"Traceback" not in reply.raw


def test_a_daemon_that_cannot_serve_says_why_in_a_503(
    client: ControlClient, stub: StubPort
) -> None:
    stub.crash_with = BrewdError("the daemon is shutting down")
    reply = client.request("GET", "/api/scheduler/status")
    assert (reply.status, reply.body) == (503, {"error": "the daemon is shutting down"})


def test_a_slow_scheduler_is_503_after_the_timeout_and_never_blocks_the_loop(
    stub: StubPort, start_control: StartControl
) -> None:
    client = ControlClient(start_control(stub, request_timeout=0.5).socket_path)
    stub.status_gate.clear()
    try:
        assert client.request("GET", "/metrics").status == 200
        reply = client.request("GET", "/api/scheduler/status")
        assert reply.status == 503
        assert "did not answer in time" in reply.body["error"]
        assert client.request("GET", "/openapi.json").status == 200
    finally:
        stub.status_gate.set()


def test_a_long_trigger_never_blocks_other_requests(client: ControlClient, stub: StubPort) -> None:
    stub.hold("calculateBadges")
    result: list[Reply] = []
    waiter = threading.Thread(
        target=lambda: result.append(
            client.request("POST", "/api/scheduler/trigger/calculateBadges")
        )
    )
    waiter.start()
    wait_until(lambda: "calculateBadges" in stub.running, what="the run to start")
    for _ in range(20):
        assert client.request("GET", "/api/scheduler/status").status == 200
    assert client.request("GET", "/health").status == 200
    assert result == []  # still waiting for the run
    stub.release("calculateBadges")
    waiter.join(10)
    assert result[0].status == 200


def test_a_client_hanging_up_does_not_cancel_its_run(client: ControlClient, stub: StubPort) -> None:
    stub.hold("expirePokes")
    with rawhttp.connect(client.socket_path) as sock:
        sock.sendall(b"POST /api/scheduler/trigger/expirePokes HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: "expirePokes" in stub.running, what="the run to start")
    stub.release("expirePokes")
    runs = wait_until(
        lambda: client.request("GET", "/api/scheduler/jobs/expirePokes/runs").body,
        what="the run to be recorded",
    )
    assert runs[0]["status"] == "succeeded"


def test_concurrent_status_requests_share_one_scheduler_call(
    client: ControlClient, stub: StubPort
) -> None:
    stub.status_gate.clear()
    replies: list[Reply] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(client.request("GET", "/api/scheduler/status"))
        )
        for _ in range(10)
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: stub.status_calls >= 1, what="a status call")
    stub.status_gate.set()
    for thread in threads:
        thread.join(10)
    assert [r.status for r in replies] == [200] * 10
    assert stub.status_calls < 10


def test_pause_then_status_never_shows_the_old_state(client: ControlClient, stub: StubPort) -> None:
    # A status call in flight from before the pause must not answer a status asked after it.
    stub.status_gate.clear()
    early = threading.Thread(target=lambda: client.request("GET", "/api/scheduler/status"))
    early.start()
    wait_until(lambda: stub.status_calls == 1, what="the early status call")
    assert client.request("POST", "/api/scheduler/jobs/expirePokes/pause").status == 200
    later: list[Reply] = []
    asker = threading.Thread(
        target=lambda: later.append(client.request("GET", "/api/scheduler/status"))
    )
    asker.start()
    wait_until(lambda: stub.status_calls == 2, what="a fresh status call")
    stub.status_gate.set()
    asker.join(10)
    early.join(10)
    assert next(j for j in later[0].body["jobs"] if j["name"] == "expirePokes")["paused"] is True
