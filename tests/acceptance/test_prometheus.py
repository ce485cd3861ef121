"""A real Prometheus scrapes a running brewd's TCP listener; the shipped Grafana dashboard's
every PromQL expression evaluates against it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brewd.jobs import ALL_JOBS
from tests.acceptance.conftest import WebDaemon
from tests.acceptance.prometheus_server import Prometheus
from tests.helpers import wait_until

DASHBOARD = Path(__file__).resolve().parents[2] / "packaging" / "grafana" / "brewd-dashboard.json"
# What Grafana puts in place of its variables, for a query over everything recent.
VARIABLES = {
    "scrape_job": "brewd",
    "instance": ".*",
    "brewd_job": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "10m",
}
# Panels that must show data once every job has run (the others may be empty on a fresh
# daemon: no failure, no lag sample in the window, ...).
KEY_PANELS = {
    "brewd instances up",
    "Dependencies",
    "Time since last success",
    "Runs by outcome",
    "Run duration percentiles",
    "Records changed",
    "Missed slots by reason",
    "Dependency state",
    "Nodes",
}


@pytest.fixture
def prometheus(web_daemon: WebDaemon, tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, [web_daemon.address]).start()
    try:
        yield server
    finally:
        server.stop()


def trigger_every_job(daemon: WebDaemon) -> None:
    for job in ALL_JOBS:
        reply = daemon.trigger(job)
        assert reply.status == 200, (job, reply.body)


def jobs_scraped(prometheus: Prometheus) -> set[str] | None:
    """The jobs whose manual success Prometheus has scraped (None until all of them)."""
    result = prometheus.vector('brewd_job_runs_total{job="brewd", status="succeeded"} >= 2')
    jobs = {sample["metric"]["exported_job"] for sample in result}
    return jobs if jobs >= set(ALL_JOBS) else None


def test_prometheus_scrapes_the_runs_of_every_job(
    web_daemon: WebDaemon, prometheus: Prometheus
) -> None:
    wait_until(lambda: prometheus.vector('up{job="brewd"} == 1'), 60, "a first scrape")
    trigger_every_job(web_daemon)
    trigger_every_job(web_daemon)  # twice: jobs not caught up at start have 2 runs, the others 3
    jobs = wait_until(lambda: jobs_scraped(prometheus), 60, "brewd_job_runs_total of every job")
    assert jobs == set(ALL_JOBS)
    series = prometheus.api("/api/v1/series", **{"match[]": "brewd_job_runs_total"})
    assert series["status"] == "success"
    assert {s["exported_job"] for s in series["data"]} == set(ALL_JOBS)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every target of every panel, rows' panels included."""
    document = json.loads(DASHBOARD.read_text())
    panels = list(document["panels"])
    panels += [inner for panel in document["panels"] for inner in panel.get("panels", [])]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]


def substitute(expr: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in VARIABLES, f"unknown dashboard variable ${name} in {expr}"
        return VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def test_the_dashboard_is_importable_json_with_a_prometheus_datasource_variable() -> None:
    document = json.loads(DASHBOARD.read_text())
    assert document["schemaVersion"] >= 36
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in document["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    titles = {title for title, _ in dashboard_queries()}
    assert titles >= KEY_PANELS
    assert len({p["id"] for p in document["panels"]}) == len(document["panels"])


def test_every_dashboard_expression_evaluates_on_real_prometheus(
    web_daemon: WebDaemon, prometheus: Prometheus
) -> None:
    trigger_every_job(web_daemon)
    wait_until(lambda: jobs_scraped_once(prometheus), 60, "every job's runs scraped")
    # rate() and increase() need two samples of the new values inside their window
    wait_until(lambda: _has_data(prometheus, "Run duration percentiles"), 60, "rates")
    with_data = set()
    for title, expr in dashboard_queries():
        answer = prometheus.query(substitute(expr))
        assert answer["status"] == "success", (title, expr, answer.get("error"))
        if answer["data"]["result"]:
            with_data.add(title)
    assert with_data >= KEY_PANELS, f"key panels without data: {sorted(KEY_PANELS - with_data)}"


def jobs_scraped_once(prometheus: Prometheus) -> bool:
    result = prometheus.vector('brewd_job_runs_total{job="brewd", status="succeeded"}')
    return {s["metric"]["exported_job"] for s in result} >= set(ALL_JOBS)


def _has_data(prometheus: Prometheus, panel: str) -> Any:
    return all(
        prometheus.vector(substitute(expr)) for title, expr in dashboard_queries() if title == panel
    )
