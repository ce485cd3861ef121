"""The control API over a real Scheduler, its real jobs, PostgreSQL and Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from brewd.adapters.pg import Database
from brewd.cli.client import ControlClient
from brewd.control.openapi import document
from brewd.core.config import DatabaseConfig
from brewd.jobs import ALL_JOBS
from brewd.runs.claims import LOCK_NAMESPACE, lock_key
from tests.helpers import peer_of_this_test, wait_until
from tests.integration.control.conftest import MakeApi


@pytest.fixture
def api(make_api: MakeApi) -> ControlClient:
    return make_api()[0]


def test_status_lists_the_six_jobs_with_their_schedules_and_next_runs(make_api: MakeApi) -> None:
    client, _ = make_api(enabled=True)

    def planned() -> dict[str, Any] | None:
        body: dict[str, Any] = client.request("GET", "/api/scheduler/status").body
        return body if all(job["next_run"] for job in body["jobs"]) else None

    status = wait_until(planned, what="every job planned")
    assert status is not None
    assert status["running"] is True
    assert (status["node"], status["timezone"]) == ("test-node:1", "UTC")
    jobs = {job["name"]: job for job in status["jobs"]}
    assert set(jobs) == set(ALL_JOBS)
    assert jobs["expirePokes"]["schedule"] == "*/5 * * * *"
    now = datetime.now(UTC)
    for job in jobs.values():
        assert datetime.fromisoformat(job["next_run"]) > now
        assert job["paused"] is False


def test_trigger_runs_the_real_job_and_records_it(api: ControlClient) -> None:
    reply = api.request("POST", "/api/scheduler/trigger/expirePokes")
    assert reply.status == 200, reply.body
    record = reply.body
    assert (record["job"], record["trigger"], record["status"]) == (
        "expirePokes",
        "manual",
        "succeeded",
    )
    assert record["node"] == "test-node:1"
    assert record["affected_records"] == 0  # an empty database: nothing to expire
    assert (record["attempts"], record["last_error"]) == (1, None)  # no retry was needed
    documented = document()["components"]["schemas"]["RunRecord"]["properties"]
    assert set(record) == set(documented)  # the OpenAPI document names every field, no more
    assert datetime.fromisoformat(record["finished_at"]) >= datetime.fromisoformat(
        record["started_at"]
    )
    runs = api.request("GET", "/api/scheduler/jobs/expirePokes/runs", {"limit": "5"}).body
    assert runs[0] == record
    status = api.request("GET", "/api/scheduler/status").body
    assert next(j for j in status["jobs"] if j["name"] == "expirePokes")["last_run"] == record
    families = text_string_to_metric_families(api.request("GET", "/metrics").raw.decode())
    samples = [s for f in families if f.name == "brewd_job_runs" for s in f.samples]
    assert any(
        s.labels == {"job": "expirePokes", "status": "succeeded"} and s.value == 1 for s in samples
    )


def test_a_failing_job_answers_500_with_its_record(
    api: ControlClient, pg: psycopg.Connection[dict[str, Any]]
) -> None:
    pg.execute("DROP TABLE pokes CASCADE")  # expirePokes cannot work without its table
    reply = api.request("POST", "/api/scheduler/trigger/expirePokes")
    assert reply.status == 500
    assert reply.body["status"] == "failed"
    assert "pokes" in reply.body["error"]
    assert reply.body["attempts"] == 1  # UndefinedTable is not transient: no retry
    history = api.request("GET", "/api/scheduler/jobs/expirePokes/runs").body
    assert history[0]["id"] == reply.body["id"]


def test_a_job_running_on_another_node_is_409(
    api: ControlClient, pg: psycopg.Connection[dict[str, Any]]
) -> None:
    # Another node's run holds the job's advisory lock for as long as it runs.
    pg.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, lock_key("expirePokes")))
    reply = api.request("POST", "/api/scheduler/trigger/expirePokes")
    assert reply.status == 409
    assert "already running" in reply.body["error"]
    pg.execute("SELECT pg_advisory_unlock_all()")
    assert api.request("POST", "/api/scheduler/trigger/expirePokes").status == 200


def test_trigger_without_waiting_is_202_and_the_run_lands_in_history(api: ControlClient) -> None:
    reply = api.request("POST", "/api/scheduler/trigger/calculateBadges", {"wait": "false"})
    assert reply.status == 202
    run_id = reply.body["run_id"]
    done = wait_until(
        lambda: [
            r for r in api.request("GET", "/api/scheduler/jobs/calculateBadges/runs").body
            if r["id"] == run_id and r["status"] != "running"
        ],
        what="the run to finish",
    )  # fmt: skip
    assert done[0]["status"] == "succeeded"


def test_unknown_job_is_404_with_the_real_job_names(api: ControlClient) -> None:
    for method, path in [
        ("POST", "/api/scheduler/trigger/brewCoffee"),
        ("GET", "/api/scheduler/jobs/brewCoffee/runs"),
        ("POST", "/api/scheduler/jobs/brewCoffee/pause"),
    ]:
        reply = api.request(method, path)
        assert reply.status == 404
        assert sorted(reply.body["available_jobs"]) == sorted(ALL_JOBS)


def test_pause_is_stored_cluster_wide_and_resume_clears_it(
    api: ControlClient, pg: psycopg.Connection[dict[str, Any]]
) -> None:
    reply = api.request("POST", "/api/scheduler/jobs/expireUsers/pause")
    assert (reply.status, reply.body["name"], reply.body["paused"]) == (200, "expireUsers", True)
    row = pg.execute("SELECT paused, paused_by FROM job_state WHERE job = 'expireUsers'").fetchone()
    assert row is not None
    assert row["paused"] is True
    assert row["paused_by"].startswith(f"{peer_of_this_test()} pid ")
    reply = api.request("POST", "/api/scheduler/jobs/expireUsers/resume")
    assert (reply.status, reply.body["paused"]) == (200, False)
    row = pg.execute("SELECT paused FROM job_state WHERE job = 'expireUsers'").fetchone()
    assert row == {"paused": False}


def test_health_is_healthy_with_both_servers_up(api: ControlClient) -> None:
    reply = wait_until(
        lambda: (r := api.request("GET", "/health")).body["scheduler"]["synced"] and r,
        what="the loop's first turn",
    )
    assert (reply.status, reply.body["status"]) == (200, "healthy"), reply.body
    assert reply.body["database"]["up"] is True
    assert reply.body["redis"]["up"] is True
    assert reply.body["database"]["latency_ms"] >= 0


def test_health_is_unhealthy_503_when_the_database_is_unreachable(
    make_api: MakeApi,
) -> None:
    # A pool on a port where nothing listens: the database is down from the daemon's view.
    dead = Database(DatabaseConfig(url="postgresql://postgres@127.0.0.1:9/x", connect_timeout=1))
    dead.open(wait=False)
    try:
        client, _ = make_api(db=dead)
        reply = client.request("GET", "/health")
        assert (reply.status, reply.body["status"]) == (503, "unhealthy")
        assert reply.body["database"]["up"] is False
        assert "Connection refused" in reply.body["database"]["error"]
        assert reply.body["database"]["down_since"]
        # status answers at once from what is known, saying the database is down and why
        status = client.request("GET", "/api/scheduler/status")
        assert status.status == 200
        assert status.body["database"]["up"] is False
        assert "Connection refused" in status.body["database"]["error"]
    finally:
        dead.close()
