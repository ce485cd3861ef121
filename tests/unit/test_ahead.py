"""The bookkeeping of slots a node passed before the database's clock did (brewd/loop/ahead.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from brewd.loop.ahead import SETTLED_AFTER, AheadSlots
from brewd.runs.records import Missed

DB_NOW = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC)
NODE_NOW = DB_NOW + timedelta(seconds=90)  # this node's clock is 90 s fast
SLOT = datetime(2026, 12, 5, 12, 1, tzinfo=UTC)  # past on the node, 30 s ahead on the database


def kept() -> AheadSlots:
    ahead = AheadSlots()
    ahead.keep("expirePokes", Missed(0, [SLOT], DB_NOW), "clock_jump", NODE_NOW)
    return ahead


def test_a_kept_slot_settles_when_the_database_is_settled_after_past_it() -> None:
    ahead = kept()
    assert ahead.offset == timedelta(seconds=90)
    settles_at = SLOT + ahead.offset + SETTLED_AFTER  # on this node's clock
    assert ahead.due_in(NODE_NOW) == (settles_at - NODE_NOW).total_seconds()
    assert ahead.settle(settles_at - timedelta(seconds=1)) == []
    assert ahead.settle(settles_at) == [("expirePokes", "clock_jump", [SLOT])]
    assert ahead.due_in(settles_at) is None  # taken out: the caller records it


def test_a_backward_step_hands_back_only_the_slots_in_the_nodes_future() -> None:
    ahead = kept()
    later = SLOT + timedelta(minutes=1)
    ahead.keep("expirePokes", Missed(0, [later], DB_NOW), "clock_jump", NODE_NOW)
    assert ahead.hand_back("expirePokes", SLOT) == [later]  # SLOT itself is not in the future
    assert ahead.hand_back("expirePokes", SLOT - timedelta(seconds=1)) == [SLOT]
    assert ahead.due_in(NODE_NOW) is None


def test_a_changed_schedule_forgets_its_kept_slots() -> None:
    ahead = kept()
    ahead.forget("expirePokes")
    assert ahead.settle(NODE_NOW + timedelta(days=1)) == []
