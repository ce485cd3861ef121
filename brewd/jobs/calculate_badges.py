"""calculateBadges: award the four badge types, judged in each café's local time (SPEC §4)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from brewd.adapters import cache as keys
from brewd.adapters.cache import Redis
from brewd.adapters.cache_ops import pipeline, queue_delete
from brewd.adapters.pg import wrap_errors
from brewd.jobs.base import JobContext, JobResult, load_sql
from brewd.jobs.batches import BestEffortCache, plural

NAME = "calculateBadges"


@dataclass(frozen=True)
class BadgeType:
    type: str
    name: str
    description: str
    lifetime: timedelta


# The spec's table; the qualifying rules themselves are SQL, in sql/calculate_badges.sql.
CATALOGUE = (
    BadgeType(
        "EARLY_BIRD",
        "Early Bird",
        "Started a café session between 05:00 and 08:00, café time.",
        timedelta(days=7),
    ),
    BadgeType(
        "NIGHT_OWL",
        "Night Owl",
        "Started a café session between 22:00 and 04:00, café time.",
        timedelta(days=7),
    ),
    BadgeType(
        "SOCIAL_BUTTERFLY",
        "Social Butterfly",
        "Sent 10 or more pokes in the last 7 days.",
        timedelta(days=30),
    ),
    BadgeType(
        "FREQUENT_VISITOR",
        "Frequent Visitor",
        "Visited on 5 or more different days in the last 30 days.",
        timedelta(days=60),
    ),
)

_ZONES = load_sql("calculate_badges_zones")
_CHANGES = load_sql("calculate_badges_changes")
_RETIRE = load_sql("calculate_badges_retire")
_AWARD = load_sql("calculate_badges")
_COUNTS = "SELECT retired, type, count(*) AS n FROM pg_temp.badge_changes GROUP BY retired, type"
_HOLDERS = "SELECT DISTINCT user_id FROM pg_temp.badge_changes"
_DROP_CHANGES = "DROP TABLE IF EXISTS pg_temp.badge_changes"
HOLDERS_PER_STEP = 10_000  # users whose badge cache one Redis step forgets


def run(ctx: JobContext) -> JobResult:
    params: dict[str, Any] = {
        "now": ctx.now,
        "types": [b.type for b in CATALOGUE],
        "names": [b.name for b in CATALOGUE],
        "descriptions": [b.description for b in CATALOGUE],
        "lifetimes": [b.lifetime for b in CATALOGUE],
    }
    with ctx.batch() as conn:
        zones = conn.execute(_ZONES).fetchall()
        params["zones"] = [z["timezone"] for z in zones if z["known"]]
        conn.execute(_CHANGES)
        conn.execute(_RETIRE, params)
        conn.execute(_AWARD, params)
        changes = conn.execute(_COUNTS).fetchall()
    try:
        with BestEffortCache(ctx) as cache:
            _forget_holders(ctx, cache)
    finally:
        if not ctx.conn.closed:
            ctx.conn.execute(_DROP_CHANGES)
    counts = Counter({row["type"]: row["n"] for row in changes if not row["retired"]})
    retired = sum(row["n"] for row in changes if row["retired"])
    notes = [summary(counts), _bad_zones_note(ctx, [z for z in zones if not z["known"]])]
    if retired:
        notes.append(f"retired {plural(retired, 'lapsed badge')} first")
    return JobResult(counts.total(), "; ".join(n for n in notes if n) + cache.note())


def _forget_holders(ctx: JobContext, cache: BestEffortCache) -> None:
    """After the commit, invalidate the badge cache of every user whose badges changed, read
    back a chunk at a time through a server-side cursor: memory stays flat at any scale."""
    with wrap_errors(), ctx.conn.transaction(), ctx.conn.cursor(name="badge_holders") as cursor:
        cursor.execute(_HOLDERS)
        while holders := [row["user_id"] for row in cursor.fetchmany(HOLDERS_PER_STEP)]:
            if cache.error is not None:
                return  # Redis failed: the rest would be skipped anyway
            cache.run("badge cache invalidation", partial(_forget, users=holders))


def summary(counts: Counter[str]) -> str:
    """'awarded 3 badges: 1 Early Bird, 0 Night Owl, 2 Social Butterfly, 0 Frequent Visitor'."""
    parts = ", ".join(f"{counts.get(b.type, 0)} {b.name}" for b in CATALOGUE)
    return f"awarded {plural(sum(counts.values()), 'badge')}: {parts}"


def _bad_zones_note(ctx: JobContext, bad: list[dict[str, Any]]) -> str | None:
    """Log once per run the cafés whose time zone PostgreSQL does not know; name them briefly."""
    if not bad:
        return None
    cafes = [str(cafe_id) for zone in bad for cafe_id in zone["cafe_ids"]]
    zone_names = ", ".join(repr(zone["timezone"][:60]) for zone in bad[:5])
    note = (
        f"{plural(len(cafes), 'café')} with an unknown time zone ({zone_names}): "
        "their users were judged for Social Butterfly only"
    )
    ctx.log.bind(event="bad_cafe_timezone", cafes=cafes[:20]).warning("{}", note)
    return note


def _forget(redis: Redis, users: list[Any]) -> None:
    pipe = pipeline(redis)
    queue_delete(pipe, (keys.user_badges(user_id) for user_id in users))
    pipe.execute()
