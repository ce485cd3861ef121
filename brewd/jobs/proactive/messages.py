"""proactiveMessages: the café host's occasional message, rate-limited, private, never doubled."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from brewd.adapters import cache as keys
from brewd.adapters.cache_ops import announce
from brewd.core.errors import CacheError
from brewd.jobs.base import JobContext, JobResult
from brewd.jobs.proactive.draft import Breaker, Draft, Plan, draft
from brewd.jobs.proactive.legacy import posted_recently
from brewd.jobs.proactive.rules import choose_trigger, time_band
from brewd.jobs.proactive.store import Limits, limit_reasons, load_cafes, record

NAME = "proactiveMessages"


@dataclass
class Tally:
    """What the run did, for its result message."""

    skipped: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    unannounced: int = 0

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
        if self.unannounced:
            text += f"; publish failed for {self.unannounced} (records kept)"
        return text


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counter.items()))


def run(ctx: JobContext) -> JobResult:
    if not ctx.config.proactive.enabled:
        return JobResult(0, "disabled")
    tally = Tally()
    plans = _plan(ctx, tally)
    _post(ctx, plans, tally)
    posted = sum(tally.sources.values())
    return JobResult(posted, tally.message(), dict(tally.sources), dict(tally.fallbacks))


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


def _post(ctx: JobContext, plans: list[Plan], tally: Tally) -> None:
    """Draft concurrently (Claude calls in worker threads), record and announce one by one on
    this thread: psycopg connections are not for concurrent use, so ctx.conn stays here."""
    if not plans:
        return
    settings = ctx.config.proactive
    breaker = Breaker(threshold=settings.concurrency)
    pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="brewd-proactive")
    try:
        futures = [pool.submit(draft, ctx.claude, breaker, plan, ctx.log) for plan in plans]
        for future in as_completed(futures):
            _record_and_announce(ctx, future.result(), tally)
    finally:
        # On a stop or a failure, drop the drafts not started; running calls end at their timeout.
        pool.shutdown(wait=False, cancel_futures=True)


def _record_and_announce(ctx: JobContext, result: Draft, tally: Tally) -> None:
    cafe = result.plan.cafe
    context_data = {
        "trigger": result.plan.trigger,
        "source": result.source,
        "model": result.model,
        "activeUsers": cafe.activity.active_users,
        "recentPokes": cafe.activity.recent_pokes,
        "recentMessages": cafe.activity.recent_messages,
        "localHour": cafe.activity.local_hour,
    }
    with ctx.batch() as conn:
        held = record(conn, cafe, result.text, context_data, ctx.now, _limits(ctx))
    if held is not None:  # another node posted for this café since the plan
        tally.skipped[held] += 1
        return
    tally.sources[result.source] += 1
    if result.fallback:
        tally.fallbacks[result.fallback] += 1
    if tally.unannounced or not _announce(ctx, cafe.id, result.text):
        # After the first failure Redis is taken as down for the rest of the run, so a hung
        # server costs one socket timeout, not one per café; the records stay either way.
        tally.unannounced += 1


def _announce(ctx: JobContext, cafe_id: Any, text: str) -> bool:
    """PUBLISH the message and stamp last_proactive_message; best-effort, after the commit."""
    payload = {
        "type": "AGENT_MESSAGE",
        "cafeId": str(cafe_id),
        "message": text,
        "timestamp": _iso(ctx.now),
    }
    try:
        with keys.wrap_errors():
            announce(
                ctx.cache,
                keys.cafe_messages_channel(cafe_id),
                json.dumps(payload),
                keys.cafe_last_proactive_message(cafe_id),
                _epoch_ms(ctx.now),
                keys.LAST_PROACTIVE_TTL_S,
            )
    except CacheError as exc:
        ctx.log.bind(event="proactive_publish_failed").warning(
            f"café {cafe_id}: message recorded but not announced: {exc}"
        )
        return False
    return True


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
