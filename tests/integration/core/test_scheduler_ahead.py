"""A node whose wall clock is ahead of the database's (brewd/loop/ahead.py): the slots it
passes that are still to come for the database are neither recorded missed at once nor lost.

These tests put the fake clock at the real time, since the database's clock is the real one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from brewd.loop.scheduler import Scheduler
from tests.helpers import FakeClock
from tests.integration.core.conftest import FakeJob
from tests.integration.core.test_scheduler import HOURLY, record, runs

Rows = Callable[[], list[dict[str, Any]]]


def hours_ahead() -> tuple[datetime, datetime]:
    """(now, the next hour's slot): now is real, so that slot is ahead of the database too."""
    now = datetime.now(UTC)
    return now, now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def stepped_forward(make_scheduler: Callable[..., Scheduler], pg: Any, node: str) -> Scheduler:
    """A node synced at the real time, then its wall clock stepped to 30 min after the third
    coming hour: the first two are missed by its clock, the third runs (catch-up)."""
    now, first = hours_ahead()
    record(pg, first - timedelta(hours=1))
    s = make_scheduler({HOURLY: FakeJob(HOURLY)}, node=node, now=now)
    clock: FakeClock = s.clock  # type: ignore[assignment]
    s.tick(clock.now())
    s.detect_clock_jump(clock.now(), clock.monotonic())
    clock.jump_wall((first + timedelta(hours=2, minutes=30) - now).total_seconds())
    assert s.detect_clock_jump(clock.now(), clock.monotonic())
    s.tick(clock.now(), "clock_jump")
    s.runner.drain(10)
    return s


def test_slots_ahead_of_the_database_are_kept_then_run_after_a_step_back(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    _, first = hours_ahead()
    s = stepped_forward(make_scheduler, pg, "node-a")
    # Nothing recorded missed: both hours are still to come for the database.
    got = [(r["slot"], r["status"]) for r in runs(pg)]
    assert got == [
        (first - timedelta(hours=1), "succeeded"),
        (first + timedelta(hours=2), "succeeded"),
    ]
    assert dict(s.ahead.slots[HOURLY]) == {
        first: "clock_jump",
        first + timedelta(hours=1): "clock_jump",
    }
    # The loop wakes to settle them when the database's clock is a minute past the first.
    wake_in = s.ahead.due_in(s.clock.now())
    assert wake_in is not None
    assert wake_in == pytest.approx((first - datetime.now(UTC)).total_seconds() + 60, abs=5)
    clock: FakeClock = s.clock  # type: ignore[assignment]
    clock.jump_wall(-3 * 3600)  # back to the real time: the kept slots are in the future again
    assert s.detect_clock_jump(clock.now(), clock.monotonic())
    assert s.plans[HOURLY].next_due == first
    for hours in (0, 1, 2):  # each hour at its time; the third ran already, and not again
        clock.advance((first + timedelta(hours=hours, seconds=1) - clock.now()).total_seconds())
        s.tick(clock.now())
        s.runner.drain(10)
    got = [(r["slot"], r["status"]) for r in runs(pg)][1:]
    assert got == [(first + timedelta(hours=h), "succeeded") for h in (0, 1, 2)]
    assert len(effects()) == 3


def test_a_node_with_a_right_clock_runs_what_the_fast_one_kept(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]], effects: Rows
) -> None:
    now, first = hours_ahead()
    fast = stepped_forward(make_scheduler, pg, "node-fast")
    right = make_scheduler({HOURLY: FakeJob(HOURLY)}, node="node-right", now=now)
    right.tick(now)
    right.tick(first + timedelta(seconds=1))  # the first hour comes: the right node runs it
    right.runner.drain(10)
    # The fast node settles its kept slots as if the database's clock had passed them both
    # (settled_after pushed back instead of waiting two real hours): the one run keeps its
    # record, the other is now missed, and only that one is counted.
    fast.ahead.settled_after = timedelta(hours=-3)
    fast.tick(fast.clock.now())
    rows = {r["slot"]: r for r in runs(pg)}
    assert rows[first]["status"] == "succeeded"
    assert pg.execute(
        "SELECT node FROM job_runs WHERE job = %s AND slot = %s", (HOURLY, first)
    ).fetchone() == {"node": "node-right"}
    assert rows[first + timedelta(hours=1)]["status"] == "missed"
    assert rows[first + timedelta(hours=1)]["message"] == "missed: clock_jump"
    metrics = fast.metrics.render().decode()
    assert f'brewd_missed_slots_total{{job="{HOURLY}",reason="clock_jump"}} 1.0' in metrics
    assert fast.ahead.due_in(fast.clock.now()) is None
    assert len(effects()) == 2  # the fast node's catch-up and the right node's first hour
