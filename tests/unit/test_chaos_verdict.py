"""The chaos run's judgement of time (tests/chaos/verdict.py, invariants.minute_slots): which
faults excuse a slot not run or work done late, and how late is still on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.chaos.faults import Fault
from tests.chaos.invariants import minute_slots
from tests.chaos.verdict import PERIOD, SLACK, deadline, explaining

T0 = datetime(2026, 12, 4, 18, 0, 0, tzinfo=UTC)
END = T0 + timedelta(hours=1)


def fault(kind: str, start_s: float, healed_s: float) -> Fault:
    return Fault(kind, "n1", "", T0 + timedelta(seconds=start_s), T0 + timedelta(seconds=healed_s))


def test_without_faults_work_is_due_one_period_after_it_fell_due() -> None:
    assert deadline([], T0, END) == T0 + PERIOD + SLACK
    assert explaining([], T0, END) is None


def test_a_fault_meanwhile_moves_the_deadline_past_its_heal() -> None:
    stop = fault("node_stop", 30, 120)
    assert stop.healed is not None
    assert deadline([stop], T0, END) == stop.healed + 2 * PERIOD + SLACK
    assert explaining([stop], T0 + timedelta(minutes=3), END) is stop
    assert explaining([stop], T0 + timedelta(minutes=10), END) is None


def test_a_slow_or_failing_claude_api_excuses_nothing() -> None:
    slow = fault("claude_slow", 0, 60)
    assert deadline([slow], T0, END) == T0 + PERIOD + SLACK
    assert explaining([slow], T0 + timedelta(seconds=30), END) is None


def test_a_fault_long_healed_before_the_due_time_does_not_move_it() -> None:
    old = fault("db_link_cut", -600, -500)
    assert deadline([old], T0, END) == T0 + PERIOD + SLACK


def test_minute_slots_are_the_whole_minutes_after_the_start_up_to_the_end() -> None:
    slots = minute_slots(T0 + timedelta(seconds=5), T0 + timedelta(minutes=3, seconds=1))
    assert slots == [T0 + timedelta(minutes=m) for m in (1, 2, 3)]
