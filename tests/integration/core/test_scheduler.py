"""The loop's decisions on a fake clock: catch-up at start, missed slots with reasons, clock
jumps, the disabled scheduler, reload, and what the watchdog is told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from brewd.core.config import JobConfig, SchedulerConfig
from brewd.core.cron import Cron
from brewd.loop.scheduler import Scheduler
from brewd.loop.watchdog import Watchdog
from tests.helpers import FakeClock
from tests.integration.core.conftest import FakeJob, make_config

HOURLY = "expireUsers"  # 0 * * * *
Rows = Callable[[], list[dict[str, Any]]]


def runs(pg: psycopg.Connection[dict[str, Any]], job: str = HOURLY) -> list[dict[str, Any]]:
    return pg.execute(
        "SELECT slot, trigger, status, message FROM job_runs WHERE job = %s ORDER BY slot, id",
        (job,),
    ).fetchall()


def record(pg: psycopg.Connection[dict[str, Any]], slot: datetime, job: str = HOURLY) -> None:
    pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, status) VALUES (%s, %s, 'schedule', 'x',"
        " 'succeeded')",
        (job, slot),
    )


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 29, hour, minute, tzinfo=UTC)


def test_start_after_downtime_runs_the_latest_slot_once_and_records_the_rest(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    record(pg, at(7))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 20))
    s.tick(at(10, 20))
    s.runner.drain(10)
    got = [(r["slot"], r["trigger"], r["status"]) for r in runs(pg)]
    assert got == [
        (at(7), "schedule", "succeeded"),
        (at(8), "schedule", "missed"),
        (at(9), "schedule", "missed"),
        (at(10), "catchup", "succeeded"),
    ]
    assert "downtime" in runs(pg)[1]["message"]
    assert len(effects()) == 1


def test_latest_slot_older_than_its_grace_is_missed_not_run(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    record(pg, at(0), "expireBadges")  # daily at 00:00, grace = min(24 h, 6 h)
    s = make_scheduler(
        {"expireBadges": FakeJob("expireBadges")}, now=at(0) + timedelta(days=1, hours=7)
    )
    s.tick(at(0) + timedelta(days=1, hours=7))
    s.runner.drain(10)
    statuses = [r["status"] for r in runs(pg, "expireBadges")]
    assert statuses == ["succeeded", "missed"]
    assert effects() == []


def test_a_healthy_loop_fires_on_time_with_trigger_schedule(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    record(pg, at(10))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 30))
    s.tick(at(10, 30))  # sync: nothing due
    assert s.plans[HOURLY].next_due == at(11)
    s.tick(at(10, 59))
    s.tick(at(11) + timedelta(milliseconds=2))
    s.runner.drain(10)
    assert [(r["slot"], r["trigger"], r["status"]) for r in runs(pg)][-1] == (
        at(11),
        "schedule",
        "succeeded",
    )


def test_clock_jump_forward_catches_up_and_records_the_gap(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    record(pg, at(10))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 30))
    clock: FakeClock = s.clock  # type: ignore[assignment]
    s.tick(clock.now())
    assert not s.detect_clock_jump(clock.now(), clock.monotonic())  # first sample
    clock.advance(1)
    assert not s.detect_clock_jump(clock.now(), clock.monotonic())
    clock.jump_wall(3 * 3600)  # 13:30 on the wall, one second later on the monotonic clock
    assert s.detect_clock_jump(clock.now(), clock.monotonic())
    s.tick(clock.now(), "clock_jump")
    s.runner.drain(10)
    got = [(r["slot"], r["status"], r["message"]) for r in runs(pg)][1:]
    assert got[0][:2] == (at(11), "missed")
    assert "clock_jump" in got[0][2]
    assert got[1][:2] == (at(12), "missed")
    assert got[2][:2] == (at(13), "succeeded")


def test_clock_jump_backwards_never_reruns_a_slot(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    record(pg, at(10))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 30))
    clock: FakeClock = s.clock  # type: ignore[assignment]
    s.tick(clock.now())
    s.detect_clock_jump(clock.now(), clock.monotonic())
    clock.advance(45 * 60)  # 11:15, after the 11:00 run
    s.tick(clock.now())
    s.runner.drain(10)
    clock.jump_wall(-3600)  # back to 10:15
    assert s.detect_clock_jump(clock.now(), clock.monotonic())
    assert s.plans[HOURLY].next_due == at(12)
    s.tick(clock.now())
    clock.advance(3600)  # 11:15 again on the wall
    s.tick(clock.now())
    s.runner.drain(10)
    assert [r["slot"] for r in runs(pg)] == [at(10), at(11)]
    assert len(effects()) == 1


def test_scheduler_disabled_runs_nothing_but_manual_runs_work(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    pg: psycopg.Connection[dict[str, Any]],
) -> None:
    config = make_config(pg_dsn, redis_url)
    config = replace(config, scheduler=SchedulerConfig(enabled=False, workers=2))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 20), config=config)
    for hour in (10, 11, 12):
        s.tick(at(hour, 20))
    s.runner.drain(10)
    assert runs(pg) == []
    assert s.runner.trigger(HOURLY, "t").future.result(timeout=10).status == "succeeded"
    assert s.status_line(at(12, 20)).startswith("scheduler disabled")


def test_reload_applies_a_new_schedule_from_now(
    make_scheduler: Callable[..., Scheduler],
    pg_dsn: str,
    redis_url: str,
    pg: psycopg.Connection[dict[str, Any]],
) -> None:
    record(pg, at(10))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 20))
    s.tick(at(10, 20))
    faster = make_config(pg_dsn, redis_url, expireUsers=JobConfig(schedule=Cron("*/15 * * * *")))
    s.reload(faster)
    s.apply_pending_config(at(10, 21))
    assert s.plans[HOURLY].next_due == at(10, 30)
    s.tick(at(10, 30))
    s.runner.drain(10)
    assert runs(pg)[-1]["slot"] == at(10, 30)


def test_overdue_jobs_starve_the_watchdog(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    class Notifier:
        watchdog_interval = 10.0

        def __init__(self) -> None:
            self.pings = 0
            self.statuses: list[str] = []

        def watchdog(self) -> None:
            self.pings += 1

        def status(self, text: str) -> None:
            self.statuses.append(text)

    notifier = Notifier()
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, now=at(10, 20))
    s.notifier = notifier
    s.watchdog = Watchdog(notifier)
    s.tick(at(10, 20))
    s.feed_watchdog(at(10, 20), s.clock.monotonic())
    assert notifier.pings == 1
    assert notifier.statuses[-1].startswith("next: expireUsers in 2400s")
    # The loop stops going round: at 12:30 the 11:00 slot is overdue past its 1 h grace.
    assert s.overdue(at(12, 30)) == [HOURLY]
    s.feed_watchdog(at(12, 30), s.clock.monotonic() + 60)
    assert notifier.pings == 1
