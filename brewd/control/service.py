"""The scheduler seen from the control API: the ControlPort that the aiohttp server calls."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from brewd import __version__
from brewd.adapters.logs import mask_known_secrets
from brewd.core.depstate import Snapshot, describe_since
from brewd.core.errors import DatabaseUnavailable, UnknownJob
from brewd.loop.scheduler import Scheduler
from brewd.runs.records import RunRecord
from brewd.runs.runner import TriggeredRun

MAX_LOOP_SILENCE_S = 330.0  # the loop sleeps at most 300 s; longer silence means it is stuck


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


class SchedulerControl:
    """Implements brewd.control.port.ControlPort over a Scheduler (blocking calls)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.node = scheduler.node
        self._last_view: tuple[dict[str, RunRecord], set[str], set[str]] = ({}, set(), set())

    def job_names(self) -> list[str]:
        return list(self.scheduler.plans)

    def _known(self, job: str) -> None:
        if job not in self.scheduler.plans:
            raise UnknownJob(job, self.job_names())

    def status(self) -> dict[str, Any]:
        s = self.scheduler
        last_runs, running, paused = self._ledger_view()
        running = running | s.runner.running()
        jobs = [
            {
                "name": plan.name,
                "schedule": plan.spec.expression,
                "enabled": plan.enabled,
                "paused": plan.name in paused,
                "running": plan.name in running,
                "next_run": _iso(plan.next_due) if plan.enabled else None,
                "last_run": last_runs[plan.name].to_json() if plan.name in last_runs else None,
            }
            for plan in s.plans.values()
        ]
        config = s.config()
        return {
            "running": self._loop_alive(),
            "enabled": config.scheduler.enabled,
            "node": self.node,
            "timezone": config.scheduler.timezone,
            "jobs": jobs,
            "database": database_state(s.db.state.snapshot()),
        }

    def _ledger_view(self) -> tuple[dict[str, RunRecord], set[str], set[str]]:
        """Last runs, running and paused jobs from the ledger; while the database is down, the
        last view read (status answers at once from what is known, and says the database is
        down). Any other database error still fails the request."""
        history = self.scheduler.history
        try:
            view = history.last_runs(), history.running_jobs(), history.paused()
        except DatabaseUnavailable:
            return self._last_view
        self._last_view = view
        return view

    def _job_status(self, job: str) -> dict[str, Any]:
        entries: list[dict[str, Any]] = self.status()["jobs"]
        return next(entry for entry in entries if entry["name"] == job)

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        self._known(job)
        return self.scheduler.runner.trigger(job, requested_by)

    def runs(self, job: str, limit: int) -> list[dict[str, Any]]:
        self._known(job)
        return [record.to_json() for record in self.scheduler.history.recent_runs(job, limit)]

    def recent(self, per_job: int) -> dict[str, Any]:
        """For the status page: each job's newest records and the nodes seen lately."""
        history = self.scheduler.history
        runs = history.recent_runs_by_job(per_job)
        return {
            "runs": {job: [r.to_json() for r in records] for job, records in runs.items()},
            "nodes": [
                {**node, "last_seen": _iso(node["last_seen"]), "self": node["node"] == self.node}
                for node in history.nodes()
            ],
        }

    def pause(self, job: str, *, by: str) -> dict[str, Any]:
        self._known(job)
        self.scheduler.records.set_paused(job, True, by)
        return self._job_status(job)

    def resume(self, job: str, *, by: str) -> dict[str, Any]:
        self._known(job)
        self.scheduler.records.set_paused(job, False, by)
        return self._job_status(job)

    def health(self) -> dict[str, Any]:
        s = self.scheduler
        if not s.db.state.known:  # only before the first connection attempt has finished
            s.db.probe()
        database = database_state(s.db.state.snapshot())
        redis = _probe(s.cache.ping)
        s.metrics.set_dependency_up("database", database["up"])
        s.metrics.set_dependency_up("redis", redis["up"])
        overdue = s.overdue(s.clock.now())
        scheduler = {
            "running": self._loop_alive(),
            "enabled": s.config().scheduler.enabled,
            "synced": s.synced,
            "overdue_jobs": overdue,
            "loop_age_s": round(s.clock.monotonic() - s.loop_beat, 3),
        }
        if not database["up"]:
            status = "unhealthy"
        elif not redis["up"] or overdue or not scheduler["running"] or not s.synced:
            status = "degraded"
        else:
            status = "healthy"
        return {
            "status": status,
            "database": database,
            "redis": redis,
            "scheduler": scheduler,
            "version": __version__,
            "uptime_s": round(s.clock.monotonic() - s.started, 3),
        }

    def _loop_alive(self) -> bool:
        return self.scheduler.clock.monotonic() - self.scheduler.loop_beat < MAX_LOOP_SILENCE_S


def database_state(snapshot: Snapshot) -> dict[str, Any]:
    """The database's last known state (the probe and every connection attempt keep it): health
    never waits on a dead server. While down: since when, and why, in one line."""
    if snapshot.up:
        return {"up": True, "latency_ms": snapshot.latency_ms, "error": None}
    since = _iso(snapshot.since)
    return {
        "up": False,
        "latency_ms": None,
        "error": f"{snapshot.error} (down since {describe_since(snapshot.since)})",
        "down_since": since,
    }


def _probe(ping: Callable[[], object]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        ping()
    except Exception as exc:  # any failure means down: health must answer, never raise
        return {"up": False, "latency_ms": None, "error": _one_line(exc)}
    return {"up": True, "latency_ms": round((time.monotonic() - started) * 1000, 3), "error": None}


def _one_line(exc: BaseException) -> str:
    text = mask_known_secrets(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
