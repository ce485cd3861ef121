"""The metrics the shipped alerts need, as a real scheduler publishes them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client.parser import text_string_to_metric_families

from brewd.jobs.base import JobContext, JobResult
from brewd.loop.scheduler import Scheduler

NOW = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)


def values(s: Scheduler, name: str) -> dict[str, float]:
    """One metric's samples keyed by their first label value."""
    out = {}
    for family in text_string_to_metric_families(s.metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name:
                out[next(iter(sample.labels.values()))] = sample.value
    return out


class PostingJob:
    NAME = "proactiveMessages"

    def run(self, ctx: JobContext) -> JobResult:
        return JobResult(3, "posted 3", {"claude": 1, "template": 2}, {"API error": 1})


def test_a_run_counts_proactive_messages_by_source(
    make_scheduler: Callable[..., Scheduler],
) -> None:
    s = make_scheduler({"proactiveMessages": PostingJob()}, now=NOW)
    assert s.runner.trigger("proactiveMessages", "t").future.result(timeout=10).status == (
        "succeeded"
    )
    assert values(s, "brewd_proactive_messages_total") == {"claude": 1, "template": 2}
    fallbacks = values(s, "brewd_proactive_fallbacks_total")
    assert fallbacks == {"claude_unavailable": 0, "api_error": 1, "rejected_reply": 0}


def test_the_loop_publishes_each_jobs_period_and_pause_state(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    s = make_scheduler({"expirePokes": PostingJob(), "expireBadges": PostingJob()}, now=NOW)
    s.records.set_paused("expirePokes", True, "test")
    s.tick(NOW)
    s.housekeeping.run(s.clock.monotonic(), s.config())
    s._publish_next_runs(NOW)
    periods = values(s, "brewd_job_period_seconds")
    assert (periods["expirePokes"], periods["expireBadges"]) == (300, 86400)
    failed = {
        job: v for job, v in values(s, "brewd_job_runs_total").items() if job == "expireBadges"
    }
    assert failed == {"expireBadges": 0}  # declared at 0 before any run ended
    paused = values(s, "brewd_job_paused")
    assert (paused["expirePokes"], paused["expireBadges"]) == (1, 0)


def test_last_success_comes_from_job_runs_and_never_moves_back(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    finished = datetime(2026, 11, 29, 9, 55, 1, tzinfo=UTC)
    pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, status, started_at, finished_at)"
        " VALUES ('expirePokes', %s, 'schedule', 'other-node:1', 'succeeded', %s, %s)",
        (finished.replace(second=0), finished.replace(second=0), finished),
    )
    s = make_scheduler({"expirePokes": PostingJob()}, now=NOW)  # a node that never ran it
    assert "expirePokes" not in values(s, "brewd_job_last_success_timestamp_seconds")
    s.housekeeping.run(s.clock.monotonic(), s.config())
    assert values(s, "brewd_job_last_success_timestamp_seconds") == {
        "expirePokes": finished.timestamp()
    }
    s.metrics.seen_success("expirePokes", finished.replace(minute=0))  # an older one
    last = values(s, "brewd_job_last_success_timestamp_seconds")["expirePokes"]
    assert last == finished.timestamp()
