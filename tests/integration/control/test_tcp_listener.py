"""The read-only TCP listener (http.listen) over a real Scheduler, PostgreSQL and Redis: the
original's JSON shapes, the same metrics as the socket, and no route that changes anything."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from http.client import HTTPConnection
from typing import Any

import psycopg
import pytest

from brewd.adapters.pg import Database
from brewd.cli.client import ControlClient
from brewd.control.openapi import document
from brewd.core.config import DatabaseConfig, HttpConfig
from brewd.jobs import ALL_JOBS
from tests.helpers import free_tcp_port, wait_until
from tests.integration.control.conftest import MakeApi


class Web:
    """An HTTP client of the listener on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, method: str, path: str) -> tuple[int, Any]:
        status, _, raw = self.request(method, path)
        return status, json.loads(raw)


def start(make_api: MakeApi, **kwargs: Any) -> tuple[Web, ControlClient]:
    port = free_tcp_port()
    client, _ = make_api(http=HttpConfig(listen=f"127.0.0.1:{port}"), **kwargs)
    return Web(port), client


@pytest.fixture
def web(make_api: MakeApi) -> tuple[Web, ControlClient]:
    """The scheduler on, its start-up catch-up finished (so a manual trigger is not refused)."""
    http, client = start(make_api, enabled=True)
    wait_until(lambda: _caught_up(client), 30, "the start-up catch-up to finish")
    return http, client


def test_health_has_the_original_shape(web: tuple[Web, ControlClient]) -> None:
    status, body = web[0].json("GET", "/health")
    assert status == 200
    assert set(body) == {"status", "timestamp", "database", "scheduler"}
    assert (body["status"], body["database"]) == ("healthy", "connected")
    assert body["timestamp"].endswith("Z")
    datetime.fromisoformat(body["timestamp"])
    assert body["scheduler"] == {"isRunning": True, "jobCount": 6, "jobs": list(ALL_JOBS)}


def test_scheduler_status_has_the_original_shape(web: tuple[Web, ControlClient]) -> None:
    status, body = web[0].json("GET", "/api/scheduler/status")
    assert status == 200
    assert body == {"isRunning": True, "jobCount": 6, "jobs": list(ALL_JOBS)}


def test_scheduler_off_reports_no_jobs_as_the_original_did(make_api: MakeApi) -> None:
    web, _ = start(make_api, enabled=False)  # ENABLE_SCHEDULER=false
    assert web.json("GET", "/api/scheduler/status") == (
        200,
        {"isRunning": False, "jobCount": 0, "jobs": []},
    )


def test_health_is_503_unhealthy_when_the_database_is_down(make_api: MakeApi) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        dead = f"host=127.0.0.1 port={closed.getsockname()[1]} user=nobody connect_timeout=2"
        db = Database(DatabaseConfig(url=dead, pool_min_size=0, connect_timeout=2))
        db.open(wait=False)
        try:
            web, _ = start(make_api, db=db)
            status, body = web.json("GET", "/health")
        finally:
            db.close(timeout=2)
    assert status == 503
    assert set(body) == {"status", "timestamp", "error"}
    assert body["status"] == "unhealthy"
    assert body["error"]


def test_metrics_are_the_sockets_registry(web: tuple[Web, ControlClient]) -> None:
    http, client = web
    assert client.request("POST", "/api/scheduler/trigger/expirePokes").status == 200
    status, headers, raw = http.request("GET", "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = raw.decode()
    assert 'brewd_job_runs_total{job="expirePokes",status="succeeded"}' in text
    assert text == client.request("GET", "/metrics").raw.decode()


def test_overview_carries_the_status_page_data(web: tuple[Web, ControlClient]) -> None:
    http, client = web
    assert client.request("POST", "/api/scheduler/trigger/expireUsers").status == 200
    status, body = http.json("GET", "/api/overview")
    assert status == 200
    assert {job["name"] for job in body["status"]["jobs"]} == set(ALL_JOBS)
    assert body["health"]["database"]["up"] is True
    manual = [r for r in body["runs"]["expireUsers"] if r["trigger"] == "manual"]
    assert manual
    assert manual[0]["status"] == "succeeded"
    assert [n["node"] for n in body["nodes"] if n["self"]] == ["test-node:1"]


def socket_routes() -> list[tuple[str, str]]:
    """Every (method, path) the socket's OpenAPI document declares, with a real job name."""
    paths = document()["paths"]
    return [
        (method.upper(), path.replace("{job}", "expirePokes"))
        for path, operations in paths.items()
        for method in operations
    ]


MUTATING = ("POST", "PUT", "PATCH", "DELETE")


def test_no_route_of_the_socket_that_changes_anything_is_served(
    web: tuple[Web, ControlClient], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    http, _client = web
    before = pg.execute("SELECT count(*) AS n FROM job_runs").fetchone()
    mutating = [route for route in socket_routes() if route[0] in MUTATING]
    assert {path for _, path in mutating} >= {
        "/api/scheduler/trigger/expirePokes",
        "/api/scheduler/jobs/expirePokes/pause",
        "/api/scheduler/jobs/expirePokes/resume",
    }
    paths = {path for _, path in socket_routes()}
    for path in sorted(paths):
        for method in MUTATING:
            status, _headers, raw = http.request(method, path, body=b"{}")
            assert status in (404, 405), (method, path, status)
            assert json.loads(raw)["path"] == path
    assert pg.execute("SELECT count(*) AS n FROM job_runs").fetchone() == before
    assert pg.execute("SELECT count(*) AS n FROM job_runs WHERE trigger = 'manual'").fetchone() == {
        "n": 0
    }
    assert pg.execute("SELECT job FROM job_state WHERE paused").fetchall() == []


# Jobs whose latest slot is always within its grace at start, so the scheduler catches it up.
CAUGHT_UP = {"expireUsers", "expirePokes", "aggregateAnalytics", "proactiveMessages"}


def _caught_up(client: ControlClient) -> bool:
    jobs = client.request("GET", "/api/scheduler/status").body["jobs"]
    ran = {job["name"] for job in jobs if job["last_run"] and job["last_run"]["finished_at"]}
    return ran >= CAUGHT_UP and not any(job["running"] for job in jobs)


@pytest.mark.parametrize("path", ["/api/scheduler/jobs/expirePokes/runs", "/openapi.json", "/x"])
def test_socket_only_reads_and_unknown_paths_are_404_in_the_original_shape(
    web: tuple[Web, ControlClient], path: str
) -> None:
    assert web[0].json("GET", path) == (404, {"error": "Not found", "path": path})


def test_a_read_route_asked_to_change_is_405_with_allow(web: tuple[Web, ControlClient]) -> None:
    status, headers, raw = web[0].request("POST", "/health", body=b"x" * 10)
    assert status == 405
    assert set(headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert json.loads(raw) == {"error": "Method not allowed", "path": "/health"}


def test_head_is_answered_without_a_body(web: tuple[Web, ControlClient]) -> None:
    status, _, raw = web[0].request("HEAD", "/health")
    assert (status, raw) == (200, b"")


def test_the_page_is_served_with_a_policy_that_loads_nothing_from_outside(
    web: tuple[Web, ControlClient],
) -> None:
    status, headers, raw = web[0].request("GET", "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert b"http://" not in raw.replace(b"http://www.w3.org/2000/svg", b"")
    assert b"https://" not in raw


def test_an_oversized_header_is_a_json_4xx(web: tuple[Web, ControlClient]) -> None:
    with socket.create_connection(("127.0.0.1", web[0].port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert 400 <= int(head.split()[1]) < 500
    assert "error" in json.loads(body)
