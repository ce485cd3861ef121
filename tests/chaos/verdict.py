"""What an invariant check returns, and which faults may explain a late or missing outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.chaos.faults import Fault

PERIOD = timedelta(minutes=1)  # every job runs every minute in the chaos run
SLACK = timedelta(seconds=20)  # a run's own duration and lag, on a loaded 2-core machine
SHOWN = 5  # violations quoted per invariant


@dataclass
class Verdict:
    name: str
    checked: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return not self.violations

    def fail(self, text: str) -> None:
        self.violations.append(text)


def disruptive(faults: list[Fault]) -> list[Fault]:
    """The faults that may delay work (a slow or failing Claude API must not)."""
    return [f for f in faults if not f.kind.startswith("claude")]


def explaining(faults: list[Fault], at: datetime, end: datetime) -> Fault | None:
    """A fault active around `at` (from a period before it began until two periods after it
    was healed), which may explain a slot not run or work done late."""
    for fault in disruptive(faults):
        healed = fault.healed or end
        if fault.started - PERIOD - SLACK <= at <= healed + 2 * PERIOD + SLACK:
            return fault
    return None


def deadline(faults: list[Fault], due: datetime, end: datetime) -> datetime:
    """When work due at `due` must be done: one period (plus slack) after it fell due, pushed
    past every fault active meanwhile to one period after that fault was healed."""
    limit = due + PERIOD + SLACK
    moved = True
    while moved:
        moved = False
        for fault in disruptive(faults):
            healed = fault.healed or end
            if fault.started <= limit and healed + PERIOD + SLACK > limit and healed >= due:
                limit = healed + 2 * PERIOD + SLACK
                moved = True
    return limit
