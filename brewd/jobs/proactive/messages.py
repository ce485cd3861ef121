"""proactiveMessages: the café host's occasional message, rate-limited, private, never doubled.

The node that claims the slot plans (eligible cafés with a trigger, not held back by a limit)
and opens a round; it and every node whose claim of the slot failed (`join`) then share the
round's cafés (brewd.jobs.proactive.work), each with `concurrency` Claude calls at a time through
one budget for all nodes (brewd.jobs.proactive.budget). The claimer's run record counts every
node's work.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta

from brewd.adapters.pg import wrap_errors
from brewd.core.cron import CronSpec, nominal_period
from brewd.jobs.base import JobContext, JobResult
from brewd.jobs.proactive import work
from brewd.jobs.proactive.draft import Plan
from brewd.jobs.proactive.legacy import posted_recently
from brewd.jobs.proactive.rules import choose_trigger, time_band
from brewd.jobs.proactive.store import Limits, limit_reasons, load_cafes
from brewd.jobs.proactive.workers import take_part

NAME = "proactiveMessages"
# A round closes this long before the next slot, so its claimer can count the work and free
# the job in time for that slot.
CLOSE_MARGIN_S = 10.0
# A node whose claim failed waits at most this long for the claimer to open the round (it
# plans first: one query over the eligible cafés).
JOIN_WAIT_S = 60.0
# The claimer takes the job's lock a moment before it writes its running row: a node that
# finds the lock taken but no running row gives the claimer this long before it gives up.
NO_RUN_GRACE_S = 5.0


@dataclass
class Tally:
    """What the run did, for its result message."""

    skipped: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    unannounced: int = 0
    deferred: int = 0
    unreached: int = 0
    nodes: int = 0

    def message(self) -> str:
        posted = sum(self.sources.values())
        text = (
            f"posted {posted} message{'' if posted == 1 else 's'} "
            f"({self.sources['claude']} from Claude, {self.sources['template']} from templates"
        )
        if self.fallbacks:
            text += f": {_counts(self.fallbacks)}"
        text += ")"
        if self.skipped:
            skipped = sum(self.skipped.values())
            text += (
                f"; skipped {skipped} café{'' if skipped == 1 else 's'}: {_counts(self.skipped)}"
            )
        if self.deferred:
            text += f"; {self.deferred} over budget, left for the next slot"
        if self.unreached:
            text += f"; {self.unreached} not reached before the slot ended"
        if self.unannounced:
            text += f"; publish failed for {self.unannounced} (records kept)"
        if self.nodes > 1:
            text += f"; shared by {self.nodes} nodes"
        return text

    def add(self, row: dict[str, object]) -> None:
        """One group of the round's work rows (brewd.jobs.proactive.work.tally)."""
        n, outcome = int(str(row["n"])), str(row["outcome"])
        if row["state"] in ("unreached", "open"):  # open: held by a frozen node at the close
            self.unreached += n
        elif outcome == "deferred":
            self.deferred += n
        elif outcome in ("claude", "template"):
            self.sources[outcome] += n
            if row["fallback"]:
                self.fallbacks[str(row["fallback"])] += n
            if row["announced"] is False:
                self.unannounced += n
        else:  # a limit re-checked under the café's lock: another node posted since the plan
            self.skipped[outcome] += n


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counter.items()))


def run(ctx: JobContext) -> JobResult:
    """The claimer: plan, open the round, take part, close it and count every node's work."""
    if not ctx.config.proactive.enabled:
        return JobResult(0, "disabled")
    tally = Tally()
    plans = _plan(ctx, tally)
    if plans:
        with ctx.batch() as conn:
            round_ = work.open_round(
                conn,
                run_id=ctx.run_id,
                now=ctx.now,
                node=ctx.node,
                window_s=_window_s(ctx),
                plans=plans,
            )
        try:
            take_part(ctx, round_, _limits(ctx))
        finally:
            with wrap_errors():
                # A café in flight ends within its call's timeout; one held longer is frozen.
                work.close(ctx.conn, round_.id, ctx.config.proactive.timeout + 5.0)
        with wrap_errors():
            rows, tally.nodes = work.tally(ctx.conn, round_.id)
        for row in rows:
            tally.add(row)
    posted = sum(tally.sources.values())
    return JobResult(posted, tally.message(), dict(tally.sources), dict(tally.fallbacks))


def join(ctx: JobContext) -> int:
    """A node whose claim of the slot failed: take part in the open round; the cafés done."""
    if not ctx.config.proactive.enabled:
        return 0
    round_ = _wait_for_round(ctx)
    if round_ is None:
        return 0
    return take_part(replace(ctx, now=round_.now), round_, _limits(ctx))


def _wait_for_round(ctx: JobContext) -> work.Round | None:
    """The open round, once the claimer has written it; None when the claimer's run ended
    without one (nothing to post) or the wait is over."""
    started, pause = time.monotonic(), threading.Event()
    deadline = started + JOIN_WAIT_S
    while not ctx.should_stop() and time.monotonic() < deadline:
        with wrap_errors():
            found = work.find_open(ctx.conn)
            if found is not None:
                return found
            running = ctx.conn.execute(
                "SELECT 1 FROM job_runs WHERE job = %s AND status = 'running'", (NAME,)
            ).fetchone()
        if running is None and time.monotonic() > started + NO_RUN_GRACE_S:
            return None  # the claimer's run ended without a round: nothing to post
        pause.wait(0.2)
    return None


def _window_s(ctx: JobContext) -> float:
    """How long the round stays open: until shortly before the job's next slot, within the
    job's timeout."""
    job = ctx.config.jobs[NAME]
    period = nominal_period(CronSpec(job.schedule, ctx.config.tz), ctx.now).total_seconds()
    return max(1.0, min(period, job.timeout) - CLOSE_MARGIN_S)


def _limits(ctx: JobContext) -> Limits:
    settings = ctx.config.proactive
    return Limits(min_interval=timedelta(seconds=settings.min_interval), daily=settings.daily_limit)


def _plan(ctx: JobContext, tally: Tally) -> list[Plan]:
    """The cafés to post to: eligible, with a trigger, not held back by a rate limit."""
    cafes, bad_zones = load_cafes(ctx.conn, ctx.now)
    for zone, count in bad_zones.items():
        # Once per zone name and run, not per café: an operator fixes the name, not the cafés.
        ctx.log.bind(event="proactive_bad_timezone").warning(
            f"skipping {count} café(s) with unknown time zone {zone!r} (want an IANA name)"
        )
        tally.skipped["unknown time zone"] += count
    triggered = []
    for cafe in cafes:
        trigger = choose_trigger(cafe.activity)
        if trigger is None:
            reason = "too few users" if cafe.activity.active_users < 2 else "no trigger"
            tally.skipped[reason] += 1
        else:
            triggered.append((cafe, trigger))
    held = limit_reasons(ctx.conn, (cafe for cafe, _ in triggered), ctx.now, _limits(ctx))
    free = [cafe.id for cafe, _ in triggered if cafe.id not in held]
    for cafe_id in posted_recently(ctx, free, ctx.now, _limits(ctx).min_interval):
        held[cafe_id] = "rate-limited"  # by the original scheduler's key (cut-over)
    plans = []
    for cafe, trigger in triggered:
        if cafe.id in held:
            tally.skipped[held[cafe.id]] += 1
            continue
        band = time_band(cafe.activity.local_hour)
        plans.append(Plan(cafe, trigger, band, seed=f"{cafe.id}:{ctx.now.isoformat()}"))
    return plans
