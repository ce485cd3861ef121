"""Every route of SPEC §6 and its status codes, over a real Unix socket (stub scheduler)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from brewd.adapters.metrics import Metrics
from brewd.cli.client import ControlClient
from brewd.control.calls import FRESH_FOR
from tests.helpers import peer_of_this_test
from tests.integration.control.conftest import StartControl
from tests.integration.control.stub_port import JOBS, StubPort


def test_health_is_200_when_healthy_and_503_when_unhealthy(
    client: ControlClient, stub: StubPort
) -> None:
    reply = client.request("GET", "/health")
    assert (reply.status, reply.body["status"]) == (200, "healthy")
    stub.database_up = False
    reply = client.request("GET", "/health")
    assert (reply.status, reply.body["status"]) == (503, "unhealthy")
    assert reply.body["database"]["up"] is False


def test_status_lists_every_job(client: ControlClient) -> None:
    reply = client.request("GET", "/api/scheduler/status")
    assert reply.status == 200
    assert reply.body["node"] == "stub:1"
    assert [job["name"] for job in reply.body["jobs"]] == list(JOBS)


def test_trigger_waits_and_answers_200_with_the_run_record(
    client: ControlClient, stub: StubPort
) -> None:
    reply = client.request("POST", "/api/scheduler/trigger/expirePokes")
    assert reply.status == 200
    assert reply.body["status"] == "succeeded"
    assert reply.body["affected_records"] == 3
    assert reply.body["finished_at"] is not None
    kind, who = stub.calls[-1]
    assert kind == "trigger"
    assert str(who).startswith(f"{peer_of_this_test()} pid ")


def test_trigger_of_a_failing_job_answers_500_with_the_record(
    client: ControlClient, stub: StubPort
) -> None:
    stub.outcome["expirePokes"] = "failed"
    reply = client.request("POST", "/api/scheduler/trigger/expirePokes")
    assert reply.status == 500
    assert reply.body["status"] == "failed"
    assert "relation does not exist" in reply.body["error"]


def test_trigger_without_waiting_answers_202_then_409_while_it_runs(
    client: ControlClient, stub: StubPort
) -> None:
    stub.hold("expirePokes")
    reply = client.request("POST", "/api/scheduler/trigger/expirePokes", {"wait": "false"})
    assert reply.status == 202
    assert isinstance(reply.body["run_id"], int)
    again = client.request("POST", "/api/scheduler/trigger/expirePokes")
    assert again.status == 409
    assert "already running" in again.body["error"]
    stub.release("expirePokes")


def test_trigger_of_an_unknown_job_is_404_with_the_available_jobs(client: ControlClient) -> None:
    reply = client.request("POST", "/api/scheduler/trigger/brewCoffee")
    assert reply.status == 404
    assert reply.body["available_jobs"] == list(JOBS)
    assert "brewCoffee" in reply.body["error"]


def test_runs_are_listed_newest_first_up_to_the_limit(
    client: ControlClient, stub: StubPort
) -> None:
    for _ in range(3):
        assert client.request("POST", "/api/scheduler/trigger/calculateBadges").status == 200
    reply = client.request("GET", "/api/scheduler/jobs/calculateBadges/runs", {"limit": "2"})
    assert reply.status == 200
    assert [r["id"] for r in reply.body] == [3, 2]
    missing = client.request("GET", "/api/scheduler/jobs/nope/runs")
    assert (missing.status, missing.body["available_jobs"]) == (404, list(JOBS))


def test_runs_limit_outside_1_to_1000_is_400(client: ControlClient) -> None:
    for bad in ("0", "1001", "-1", "ten", "1.5", "", "٣", "9" * 34, "1" * 5000, "0" * 30 + "5"):
        reply = client.request("GET", "/api/scheduler/jobs/expirePokes/runs", {"limit": bad})
        assert reply.status == 400, bad
        assert "limit" in reply.body["error"]
    ok = client.request("GET", "/api/scheduler/jobs/expirePokes/runs", {"limit": "1000"})
    assert ok.status == 200


def test_pause_and_resume_answer_200_and_show_in_status(
    client: ControlClient, stub: StubPort
) -> None:
    reply = client.request("POST", "/api/scheduler/jobs/expirePokes/pause")
    assert (reply.status, reply.body["paused"]) == (200, True)
    status = client.request("GET", "/api/scheduler/status").body
    assert next(j for j in status["jobs"] if j["name"] == "expirePokes")["paused"] is True
    reply = client.request("POST", "/api/scheduler/jobs/expirePokes/resume")
    assert (reply.status, reply.body["paused"]) == (200, False)
    assert client.request("POST", "/api/scheduler/jobs/nope/pause").status == 404


def test_metrics_are_the_prometheus_text_format(
    stub: StubPort, start_control: StartControl
) -> None:
    metrics = Metrics()
    metrics.run_finished("expirePokes", "succeeded", 0.2, 7)
    client = ControlClient(start_control(stub, metrics).socket_path)
    reply = client.request("GET", "/metrics")
    assert reply.status == 200
    families = {f.name: f for f in text_string_to_metric_families(reply.raw.decode())}
    runs = families["brewd_job_runs"].samples
    assert any(s.labels == {"job": "expirePokes", "status": "succeeded"} for s in runs)


def test_openapi_document_describes_every_route(client: ControlClient) -> None:
    reply = client.request("GET", "/openapi.json")
    assert reply.status == 200
    assert reply.body["openapi"].startswith("3.")
    assert set(reply.body["paths"]) == {
        "/health",
        "/api/scheduler/status",
        "/api/scheduler/trigger/{job}",
        "/api/scheduler/jobs/{job}/runs",
        "/api/scheduler/jobs/{job}/pause",
        "/api/scheduler/jobs/{job}/resume",
        "/metrics",
        "/openapi.json",
    }


def test_a_database_outage_is_a_json_503_not_a_traceback(
    client: ControlClient, stub: StubPort
) -> None:
    stub.database_up = False
    reply = client.request("GET", "/api/scheduler/status")
    assert reply.status == 503
    assert reply.body == {"error": "database unavailable: connection refused"}


def test_answers_are_reused_briefly_but_never_across_a_pause(
    stub: StubPort, start_control: StartControl
) -> None:
    client = ControlClient(start_control(stub, fresh_for=FRESH_FOR).socket_path)
    for _ in range(5):
        assert client.request("GET", "/api/scheduler/status").status == 200
    assert stub.status_calls == 1
    assert client.request("POST", "/api/scheduler/jobs/expirePokes/pause").status == 200
    status = client.request("GET", "/api/scheduler/status").body
    assert stub.status_calls == 2
    assert next(j for j in status["jobs"] if j["name"] == "expirePokes")["paused"] is True
