"""Slots this node's clock passed before the database's clock did (pure bookkeeping).

A node whose wall clock runs fast, or was stepped forward, sees slots go by that are still to
come for every other node. Recording them 'missed' at once would cost the whole cluster those
slots: the nodes with a right clock would find them recorded and run nothing. So the loop
records at once only the slots the database's clock has passed, and keeps the others here:

- when the database's clock is SETTLED_AFTER past one, it is recorded missed, unless a node
  ran or recorded it meanwhile (its record stays);
- when this node's clock is stepped back before them, they go back to its schedule and run
  at their time, like any other slot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from brewd.runs.records import Missed

# A node with a right clock claims a slot within this of its time, loaded or not; only after it
# may a slot be recorded missed without racing that claim.
SETTLED_AFTER = timedelta(seconds=60)


@dataclass
class AheadSlots:
    """Per job, the slots kept and the reason they would be recorded under."""

    slots: dict[str, dict[datetime, str]] = field(default_factory=lambda: defaultdict(dict))
    offset: timedelta = timedelta(0)  # this node's clock minus the database's, last seen
    settled_after: timedelta = SETTLED_AFTER

    def keep(self, job: str, missed: Missed, reason: str, now: datetime) -> list[datetime]:
        """Keep what `Records.record_missed` left ahead; `now` is this node's clock. Returns
        the slots not kept before (the others are back from a settle that came too soon)."""
        if missed.database_now is not None:
            self.offset = now - missed.database_now
        kept = self.slots[job]
        fresh = [slot for slot in missed.ahead if slot not in kept]
        kept.update(dict.fromkeys(missed.ahead, reason))
        return fresh

    def due_in(self, now: datetime) -> float | None:
        """Seconds of this node's clock until the earliest kept slot may be settled."""
        kept = [slot for slots in self.slots.values() for slot in slots]
        if not kept:
            return None
        return (min(kept) + self.offset + self.settled_after - now).total_seconds()

    def settle(self, now: datetime) -> list[tuple[str, str, list[datetime]]]:
        """Take out the slots the database's clock should be `settled_after` past by now, as
        (job, reason, slots ascending): the caller records them (and keeps any still ahead)."""
        database_now = now - self.offset
        taken = []
        for job, slots in self.slots.items():
            ready = sorted(slot for slot in slots if slot <= database_now - self.settled_after)
            by_reason: dict[str, list[datetime]] = defaultdict(list)
            for slot in ready:
                by_reason[slots.pop(slot)].append(slot)
            taken += [(job, reason, group) for reason, group in by_reason.items()]
        return taken

    def hand_back(self, job: str, now: datetime) -> list[datetime]:
        """After a backward step of this node's clock: the kept slots of `job` that are in its
        future again, taken out to be scheduled (ascending)."""
        slots = self.slots.get(job, {})
        future = sorted(slot for slot in slots if slot > now)
        for slot in future:
            del slots[slot]
        return future

    def forget(self, job: str) -> None:
        """The job's schedule changed: its old slots were never promised."""
        self.slots.pop(job, None)
