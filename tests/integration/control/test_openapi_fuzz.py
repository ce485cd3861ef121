"""schemathesis fuzzes the OpenAPI document against the server on its Unix socket: no 5xx but
the documented failed-run 500, and every response matching the document. Twice: behind the
stub scheduler (cheap, more examples) and behind a real Scheduler on PostgreSQL and Redis."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks

from brewd.adapters.metrics import Metrics
from brewd.control.openapi import document
from brewd.control.server import ControlThread
from brewd.core.config import ControlConfig
from tests.integration.control.conftest import MakeApi
from tests.integration.control.stub_port import StubPort
from tests.integration.control.unix_requests import unix_session

schema = schemathesis.openapi.from_dict(document())

CHECKS = [
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One server for the whole fuzz run (hypothesis calls the test many times)."""
    directory = tempfile.mkdtemp(prefix="bf", dir="/tmp")
    config = ControlConfig(socket=os.path.join(directory, "s"), request_timeout=10)
    port = StubPort()
    port.outcome["calculateBadges"] = "failed"  # so the documented 500 is exercised too
    server = ControlThread(port, Metrics(), config)
    server.start(timeout=10)
    with unix_session(config.socket) as http:
        yield http
    server.stop(timeout=5)
    shutil.rmtree(directory, ignore_errors=True)


def assert_no_undocumented_server_error(response: schemathesis.Response, path: str) -> None:
    """The failed-run 500 of trigger (with its run record) is the one 5xx allowed."""
    if response.status_code < 500:
        return
    assert response.status_code == 500, response.text
    assert path.startswith("/api/scheduler/trigger/"), response.text
    assert response.json()["status"] == "failed"


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_matches_its_document(case: schemathesis.Case[Any], session: requests.Session) -> None:
    response = case.call(session=session, base_url="http://brewd")
    assert_no_undocumented_server_error(response, case.formatted_path)
    case.validate_response(response, checks=CHECKS)


@pytest.fixture
def real_session(make_api: MakeApi) -> Iterator[requests.Session]:
    """A real Scheduler (real run records, real health) behind the socket, one per operation."""
    client, _ = make_api()
    with unix_session(client.socket_path) as http:
        yield http


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_real_scheduler_answers_match_the_document(
    case: schemathesis.Case[Any], real_session: requests.Session
) -> None:
    response = case.call(session=real_session, base_url="http://brewd")
    assert_no_undocumented_server_error(response, case.formatted_path)
    case.validate_response(response, checks=CHECKS)
