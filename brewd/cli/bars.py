"""Durations drawn as text: a sparkline per job and a bar per run (pure, no terminal I/O)."""

from __future__ import annotations

from collections.abc import Sequence

# Eight heights of U+2581..U+2588; a run with no duration (missed, skipped) is a gap.
SPARKS = "▁▂▃▄▅▆▇█"
GAP = " "
# Horizontal eighths, for bars: full blocks then one partial block.
EIGHTHS = " ▏▎▍▌▋▊▉█"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled from 0 to the largest; None is a gap.

    Scaled from zero rather than from the smallest value: a job whose runs all take about
    the same time draws a flat line, not noise blown up to full height.
    """
    top = max((v for v in values if v is not None), default=0.0)
    return "".join(_spark(v, top) for v in values)


def _spark(value: float | None, top: float) -> str:
    if value is None:
        return GAP
    if top <= 0:
        return SPARKS[0]
    level = round(max(value, 0.0) / top * (len(SPARKS) - 1))
    return SPARKS[min(level, len(SPARKS) - 1)]


def bar(value: float | None, top: float, width: int) -> str:
    """A bar of `width` cells at most, `value / top` of it filled, to an eighth of a cell.

    Any positive value shows at least a sliver, so "fast" and "nothing" look different.
    """
    if value is None or width <= 0:
        return ""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(round(min(value / top, 1.0) * width * 8), 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")
