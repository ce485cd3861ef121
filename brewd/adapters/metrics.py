"""Prometheus metrics: one CollectorRegistry per instance, so two schedulers never clash."""

from __future__ import annotations

import threading
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from brewd.core.clock import Clock, SystemClock

# Jobs take from milliseconds (nothing to expire) to their 10-minute timeout.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# The spec promises runs within a second of their slot: resolve that second finely.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30, 60)
PROACTIVE_SOURCES = ("claude", "template")
# Why a template stood in for Claude (brewd/jobs/proactive/draft.py), as label values.
FALLBACK_REASONS = ("claude_unavailable", "api_error", "rejected_reply")
RUN_STATUSES = ("succeeded", "failed", "skipped")
MISSED_REASONS = ("downtime", "paused", "late", "clock_jump", "database_unavailable")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """brewd's metrics; the scheduler records, GET /metrics renders."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock: Clock = clock or SystemClock()
        self._last_success_lock = threading.Lock()
        self._last_success_at: dict[str, float] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self._run_metrics(self.registry)
        self._schedule_metrics(self.registry)
        self._proactive_cafes = Counter(
            "brewd_proactive_cafes",
            "Cafés this node handled in proactiveMessages rounds, by outcome: claude, template,"
            " over_budget (a template: the budget could not reach it), deferred (over budget,"
            " left for the next slot), held (a limit re-checked under its lock).",
            ["outcome"],
            registry=self.registry,
        )
        self._up = Gauge(
            "brewd_up",
            "1 when the dependency answers, else 0.",
            ["dependency"],
            registry=self.registry,
        )

    def _run_metrics(self, r: CollectorRegistry) -> None:
        self._runs = Counter(
            "brewd_job_runs", "Runs that ended, by job and outcome.", ["job", "status"], registry=r
        )
        self._duration = Histogram(
            "brewd_job_duration_seconds",
            "Run duration, by job.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self._affected = Counter(
            "brewd_job_affected_records", "Records changed by runs, by job.", ["job"], registry=r
        )
        self._last_success = Gauge(
            "brewd_job_last_success_timestamp_seconds",
            "Unix time of the job's last successful run: on this node, or in job_runs (any node).",
            ["job"],
            registry=r,
        )

    def _schedule_metrics(self, r: CollectorRegistry) -> None:
        self._next_run = Gauge(
            "brewd_job_next_run_timestamp_seconds",
            "Unix time of the job's next slot (0: none, the job or the scheduler is disabled).",
            ["job"],
            registry=r,
        )
        self._lag = Histogram(
            "brewd_schedule_lag_seconds",
            "Delay between a slot and the start of its run.",
            ["job"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self._missed = Counter(
            "brewd_missed_slots", "Slots not run, by job and reason.", ["job", "reason"], registry=r
        )
        self._clock_jumps = Counter(
            "brewd_clock_jumps", "Wall-clock jumps that made the loop re-plan.", registry=r
        )
        # Cron periods vary per job (5 min to a day): alerts compare silence with the period.
        self._period = Gauge(
            "brewd_job_period_seconds",
            "Gap between the job's next two slots (0: no slots, the job or scheduler is disabled).",
            ["job"],
            registry=r,
        )
        self._paused = Gauge(
            "brewd_job_paused",
            "1 while the job is paused cluster-wide (brewctl pause), else 0.",
            ["job"],
            registry=r,
        )
        self._proactive = Counter(
            "brewd_proactive_messages",
            "Proactive messages posted, by who wrote the text: claude or template.",
            ["source"],
            registry=r,
        )
        self._fallbacks = Counter(
            "brewd_proactive_fallbacks",
            "Proactive messages where a template stood in for Claude, by reason.",
            ["reason"],
            registry=r,
        )
        # Every series from the start at 0: increase() cannot see a counter's first step
        # from absent to 1, and a ratio needs both of its sides.
        for source in PROACTIVE_SOURCES:
            self._proactive.labels(source=source)
        for reason in FALLBACK_REASONS:
            self._fallbacks.labels(reason=reason)

    def run_finished(self, job: str, status: str, duration_s: float, affected: int | None) -> None:
        self._runs.labels(job=job, status=status).inc()
        self._duration.labels(job=job).observe(max(duration_s, 0.0))
        if affected:
            self._affected.labels(job=job).inc(max(affected, 0))
        else:
            self._affected.labels(job=job)  # the series exists at 0 from the first run
        if status == "succeeded":
            self.seen_success(job, self._clock.now())

    def seen_success(self, job: str, when: datetime) -> None:
        """A success, here or read from job_runs (any node); the gauge never moves back."""
        with self._last_success_lock:
            if when.timestamp() > self._last_success_at.get(job, float("-inf")):
                self._last_success_at[job] = when.timestamp()
                self._last_success.labels(job=job).set(when.timestamp())

    def proactive_cafe(self, outcome: str) -> None:
        self._proactive_cafes.labels(outcome).inc()

    def schedule_lag(self, job: str, seconds: float) -> None:
        self._lag.labels(job=job).observe(max(seconds, 0.0))

    def missed(self, job: str, reason: str, count: int = 1) -> None:
        self._missed.labels(job=job, reason=reason).inc(count)

    def set_next_run(self, job: str, when: datetime | None) -> None:
        self._next_run.labels(job=job).set(when.timestamp() if when is not None else 0)

    def set_period(self, job: str, seconds: float) -> None:
        self._period.labels(job=job).set(max(seconds, 0.0))

    def set_paused(self, job: str, paused: bool) -> None:
        self._paused.labels(job=job).set(1 if paused else 0)

    def declare_job(self, job: str) -> None:
        """The job's counters at 0, so the first failure or missed slot is an increase."""
        for status in RUN_STATUSES:
            self._runs.labels(job=job, status=status)
        for reason in MISSED_REASONS:
            self._missed.labels(job=job, reason=reason)

    def proactive_posted(self, source: str, count: int = 1) -> None:
        self._proactive.labels(source=source).inc(max(count, 0))

    def proactive_fallback(self, reason: str, count: int = 1) -> None:
        label = reason.lower().replace(" ", "_")
        self._fallbacks.labels(reason=label).inc(max(count, 0))

    def set_dependency_up(self, name: str, up: bool) -> None:
        self._up.labels(dependency=name).set(1 if up else 0)

    def clock_jump(self) -> None:
        self._clock_jumps.inc()

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)
