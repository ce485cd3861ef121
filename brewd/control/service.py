"""The scheduler seen from the control API: the ControlPort that the aiohttp server calls.

It is given only what it reads (daemon.py wires it): the loop's plans and heartbeat
(LoopView), the runner's manual runs (RunStarter), the run history, the database's state, a
Redis ping, the dependency gauges and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from brewd import __version__
from brewd.adapters.logs import mask_known_secrets
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.control.port import (
    Dependency,
    Health,
    HealthStatus,
    JobStatus,
    NodeSeen,
    Recent,
    SchedulerHealth,
    SchedulerStatus,
)
from brewd.core.clock import Clock
from brewd.core.config import Config
from brewd.core.depstate import Snapshot, describe_since
from brewd.core.errors import DatabaseUnavailable, UnknownJob, first_line
from brewd.loop.scheduler import JobPlan
from brewd.runs.history import History
from brewd.runs.records import Records, RunRecord
from brewd.runs.runner import TriggeredRun

MAX_LOOP_SILENCE_S = 330.0  # the loop sleeps at most 300 s; longer silence means it is stuck


class LoopView(Protocol):
    """What the control API reads of the scheduling loop (loop/scheduler.py Scheduler)."""

    @property
    def plans(self) -> Mapping[str, JobPlan]: ...
    @property
    def synced(self) -> bool: ...  # the start-up catch-up is done
    @property
    def loop_beat(self) -> float: ...  # monotonic time the loop last went round
    @property
    def started(self) -> float: ...  # monotonic time the daemon started

    def config(self) -> Config: ...

    def overdue(self, now: datetime) -> list[str]: ...


class RunStarter(Protocol):
    """The manual runs (runs/runner.py Runner)."""

    def trigger(self, job: str, requested_by: str) -> TriggeredRun: ...

    def running(self) -> set[str]: ...


class SchedulerControl:
    """Implements brewd.control.port.ControlPort (blocking calls)."""

    def __init__(
        self,
        *,
        node: str,
        loop: LoopView,
        runner: RunStarter,
        history: History,
        records: Records,
        db: Database,
        ping_redis: Callable[[], object],
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.node, self.loop, self.runner, self.history = node, loop, runner, history
        self.records = records
        self.db, self.ping_redis, self.metrics, self.clock = db, ping_redis, metrics, clock
        self._last_view: tuple[dict[str, RunRecord], set[str], set[str]] = ({}, set(), set())

    def job_names(self) -> list[str]:
        return list(self.loop.plans)

    def _known(self, job: str) -> None:
        if job not in self.loop.plans:
            raise UnknownJob(job, self.job_names())

    def status(self) -> SchedulerStatus:
        last_runs, running, paused = self._ledger_view()
        running = running | self.runner.running()
        jobs = [
            JobStatus(
                name=plan.name,
                schedule=plan.spec.expression,
                enabled=plan.enabled,
                paused=plan.name in paused,
                running=plan.name in running,
                next_run=plan.next_due if plan.enabled else None,
                last_run=last_runs.get(plan.name),
            )
            for plan in self.loop.plans.values()
        ]
        config = self.loop.config()
        return SchedulerStatus(
            running=self._loop_alive(),
            enabled=config.scheduler.enabled,
            node=self.node,
            timezone=config.scheduler.timezone,
            jobs=jobs,
            database=database_state(self.db.state.snapshot()),
        )

    def _ledger_view(self) -> tuple[dict[str, RunRecord], set[str], set[str]]:
        """Last runs, running and paused jobs from the ledger; while the database is down, the
        last view read (status answers at once from what is known, and says the database is
        down). Any other database error still fails the request."""
        history = self.history
        try:
            view = history.last_runs(), history.running_jobs(), history.paused()
        except DatabaseUnavailable:
            return self._last_view
        self._last_view = view
        return view

    def _job_status(self, job: str) -> JobStatus:
        return next(entry for entry in self.status().jobs if entry.name == job)

    def trigger(self, job: str, *, requested_by: str) -> TriggeredRun:
        self._known(job)
        return self.runner.trigger(job, requested_by)

    def runs(self, job: str, limit: int) -> list[RunRecord]:
        self._known(job)
        return self.history.recent_runs(job, limit)

    def recent(self, per_job: int) -> Recent:
        history = self.history
        nodes = [
            NodeSeen(
                node=row["node"],
                last_seen=row["last_seen"],
                runs=row["runs"],
                failures=row["failures"],
                running=row["running"],
                is_self=row["node"] == self.node,
            )
            for row in history.nodes()
        ]
        return Recent(runs=history.recent_runs_by_job(per_job), nodes=nodes)

    def pause(self, job: str, *, by: str) -> JobStatus:
        self._known(job)
        self.records.set_paused(job, True, by)
        return self._job_status(job)

    def resume(self, job: str, *, by: str) -> JobStatus:
        self._known(job)
        self.records.set_paused(job, False, by)
        return self._job_status(job)

    def health(self) -> Health:
        loop, clock = self.loop, self.clock
        if not self.db.state.known:  # only before the first connection attempt has finished
            self.db.probe()
        database = database_state(self.db.state.snapshot())
        redis = _probe(self.ping_redis)
        self.metrics.set_dependency_up("database", database.up)
        self.metrics.set_dependency_up("redis", redis.up)
        scheduler = SchedulerHealth(
            running=self._loop_alive(),
            enabled=loop.config().scheduler.enabled,
            synced=loop.synced,
            overdue_jobs=loop.overdue(clock.now()),
            loop_age_s=round(clock.monotonic() - loop.loop_beat, 3),
        )
        return Health(
            status=_overall(database, redis, scheduler),
            database=database,
            redis=redis,
            scheduler=scheduler,
            version=__version__,
            uptime_s=round(clock.monotonic() - loop.started, 3),
        )

    def _loop_alive(self) -> bool:
        return self.clock.monotonic() - self.loop.loop_beat < MAX_LOOP_SILENCE_S


def _overall(database: Dependency, redis: Dependency, scheduler: SchedulerHealth) -> HealthStatus:
    if not database.up:
        return "unhealthy"
    if not redis.up or scheduler.overdue_jobs or not scheduler.running or not scheduler.synced:
        return "degraded"
    return "healthy"


def database_state(snapshot: Snapshot) -> Dependency:
    """The database's last known state (the probe and every connection attempt keep it): health
    never waits on a dead server. While down: since when, and why, in one line."""
    if snapshot.up:
        return Dependency(up=True, latency_ms=snapshot.latency_ms, error=None)
    return Dependency(
        up=False,
        latency_ms=None,
        error=f"{snapshot.error} (down since {describe_since(snapshot.since)})",
        down_since=snapshot.since,
    )


def _probe(ping: Callable[[], object]) -> Dependency:
    started = time.monotonic()
    try:
        ping()
    except Exception as exc:  # any failure means down: health must answer, never raise
        detail = f": {mask_known_secrets(first_line(exc))}" if str(exc).strip() else ""
        return Dependency(up=False, latency_ms=None, error=type(exc).__name__ + detail)
    return Dependency(up=True, latency_ms=round((time.monotonic() - started) * 1000, 3), error=None)
