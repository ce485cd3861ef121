"""`brewd plan`: every job's coming slots in local time and UTC, with the DST decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from brewd.core.config import Config
from brewd.core.cron import CronSpec, PlannedSlot, plan

MIN_SHOWN = 2  # the first slots of each job, always printed; steady runs after them are elided


def print_plan(config: Config, *, hours: int, now: datetime | None = None) -> int:
    """Print the plan for the next `hours` from `now` (default: the current time); exit 0."""
    now = now or datetime.now(UTC)
    specs = {name: CronSpec(job.schedule, config.tz) for name, job in config.jobs.items()}
    slots = plan(specs, now, hours)
    print(f"Slots from {now:%Y-%m-%d %H:%M} UTC for {hours} h, scheduler time zone {config.tz}")
    lines: list[tuple[str, ...] | str] = [("JOB", f"LOCAL ({config.tz})", "UTC", "NOTE")]
    for name, job in config.jobs.items():
        label = name if job.enabled else f"{name} (disabled)"
        lines.extend(_job_lines(label, [slot for slot in slots if slot.job == name]))
    print(_table(lines))
    return 0


def _job_lines(label: str, slots: Sequence[PlannedSlot]) -> list[tuple[str, ...] | str]:
    """One job's rows: the first slots, each change of DST note, the last; runs between elided."""
    if not slots:
        return [(label, "-", "-", "no slot in this window")]
    notes = [slot.note for slot in slots]
    lines: list[tuple[str, ...] | str] = []
    elided: list[PlannedSlot] = []
    for i, slot in enumerate(slots):
        if not _shown(notes, i):
            elided.append(slot)
            continue
        if elided:
            lines.append(_elision(elided))
            elided = []
        local, utc = f"{slot.local:%Y-%m-%d %H:%M %Z}", f"{slot.at:%Y-%m-%d %H:%M}"
        lines.append((label, local, utc, slot.note or ""))
    return lines


def _shown(notes: Sequence[str | None], i: int) -> bool:
    """Whether row i is printed: the first rows, the last, and both ends of each run of notes."""
    if i < MIN_SHOWN or i == len(notes) - 1:
        return True
    return notes[i] != notes[i - 1] or notes[i] != notes[i + 1]


def _elision(run: Sequence[PlannedSlot]) -> str:
    steps = {b.at - a.at for a, b in pairwise(run)}
    every = f", every {_duration(steps.pop())}" if len(steps) == 1 else ""
    same = ", same note" if run[0].note else ""
    return f"... {len(run)} more{every}{same}"


def _duration(step: timedelta) -> str:
    minutes = int(step.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _table(lines: Sequence[tuple[str, ...] | str]) -> str:
    """Columns padded to their widest cell; elision lines sit under the LOCAL column."""
    rows = [line for line in lines if isinstance(line, tuple)]
    widths = [max(len(row[col]) for row in rows) for col in range(3)]
    out = []
    for line in lines:
        if isinstance(line, str):
            out.append(" " * (widths[0] + 2) + line)
        else:
            cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
            out.append("  ".join([*cells, line[3]]).rstrip())
    return "\n".join(out)
