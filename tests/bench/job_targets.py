"""The issue's targets for the data jobs, and where a run misses them, which step costs what.

At 1M users and below: every job within 1.5x of its single-statement bound, cache work
included. At 10M: within 2x; the hourly jobs under 60 s, calculateBadges under 5 minutes.
A job's time splits into its database work (the run with Redis unreachable, whose cache steps
fail at once and are skipped) and its cache work (the rest: Redis round trips and the exact
recounts read from PostgreSQL for the cache).
"""

from __future__ import annotations

from typing import Protocol

HOURLY = ("expireUsers", "expirePokes", "aggregateAnalytics")
LARGE = 10_000_000  # from this size on, the 10M targets apply


class Timed(Protocol):
    @property
    def job(self) -> str: ...
    @property
    def users(self) -> int: ...
    @property
    def job_s(self) -> float: ...
    @property
    def db_s(self) -> float: ...
    @property
    def bound_s(self) -> float | None: ...


def misses(figure: Timed) -> list[str]:
    """One line per target the figure misses, saying which step costs what; empty if none."""
    problems = []
    limit = 2.0 if figure.users >= LARGE else 1.5
    if figure.bound_s and figure.job_s / figure.bound_s > limit:
        problems.append(f"{figure.job_s / figure.bound_s:.2f}x its bound (target {limit}x)")
    if figure.users >= LARGE:
        seconds = 300.0 if figure.job == "calculateBadges" else 60.0
        if (figure.job in HOURLY or figure.job == "calculateBadges") and figure.job_s > seconds:
            problems.append(f"{figure.job_s:.1f} s (target under {seconds:.0f} s)")
    if not problems:
        return []
    cache_s = max(0.0, figure.job_s - figure.db_s)
    split = f"database work {figure.db_s:.3f} s"
    if figure.bound_s:
        split += f" ({figure.db_s / figure.bound_s:.2f}x the bound {figure.bound_s:.3f} s)"
    split += f", cache work {cache_s:.3f} s ({cache_s / figure.job_s:.0%} of the run)"
    return [f"{figure.job} at {figure.users:,} users: {'; '.join(problems)}: {split}"]
