"""`brewctl runs`: recent runs with their durations drawn, per job or for every job (pure)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import tzinfo

from brewd.cli.answers import RunJson
from brewd.cli.bars import bar, sparkline
from brewd.cli.render import local, parse_time, table, timespan

BAR_WIDTH = 30
RED, RESET = "\x1b[31m", "\x1b[0m"
FAILED = frozenset({"failed"})


def duration_s(record: RunJson) -> float | None:
    """How long the run took; None while running, or for a missed or skipped slot."""
    start, end = parse_time(record.get("started_at")), parse_time(record.get("finished_at"))
    if start is None or end is None or record.get("status") in ("missed", "skipped"):
        return None
    return max((end - start).total_seconds(), 0.0)


def _paint(text: str, failed: bool, colour: bool) -> str:
    return f"{RED}{text}{RESET}" if colour and failed and text else text


def job_runs(records: Sequence[RunJson], tz: tzinfo | None, colour: bool) -> str:
    """One job: its runs newest first, each with a bar scaled to the longest shown."""
    if not records:
        return "no runs recorded yet"
    durations = [duration_s(r) for r in records]
    top = max((d for d in durations if d is not None), default=0.0)
    rows = [
        [
            str(r.get("id")),
            local(r.get("started_at") or r.get("slot"), tz),
            str(r.get("trigger")),
            str(r.get("status")),
            "-" if d is None else timespan(d),
            _paint(bar(d, top, BAR_WIDTH), r.get("status") in FAILED, colour),
        ]
        for r, d in zip(records, durations, strict=True)
    ]
    scale = f"bars: {timespan(top)} = {BAR_WIDTH} cells" if top else "bars: no durations"
    return table(["RUN", "STARTED", "TRIGGER", "STATUS", "DURATION", ""], rows) + f"\n\n{scale}"


def _spark(records: Sequence[RunJson], colour: bool) -> str:
    oldest_first = list(reversed(records))
    chars = sparkline([duration_s(r) for r in oldest_first])
    return "".join(
        _paint(ch, r.get("status") in FAILED, colour)
        for ch, r in zip(chars, oldest_first, strict=True)
    )


def _overview_row(name: str, records: Sequence[RunJson], colour: bool) -> list[str]:
    durations = [d for d in map(duration_s, records) if d is not None]
    failed = sum(1 for r in records if r.get("status") in FAILED)
    return [
        name,
        str(len(records)),
        str(failed),
        timespan(durations[0]) if durations else "-",
        timespan(statistics.median(durations)) if durations else "-",
        timespan(max(durations)) if durations else "-",
        _spark(records, colour),
    ]


def overview(runs_by_job: Mapping[str, Sequence[RunJson]], colour: bool) -> str:
    """Every job on one line: counts, last/median/max duration, a sparkline oldest to newest."""
    rows = [_overview_row(name, records, colour) for name, records in runs_by_job.items()]
    header = ["JOB", "RUNS", "FAILED", "LAST", "MEDIAN", "MAX", "DURATIONS (oldest → newest)"]
    note = "Each sparkline is scaled to that job's longest run; a gap is a missed or skipped slot."
    return table(header, rows) + f"\n\n{note}" + (" Failed runs in red." if colour else "")
