"""aggregateAnalytics: one analytics row per active café and closed UTC hour (SPEC §4)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import partial
from typing import Any

from brewd.adapters import cache as keys
from brewd.adapters.cache import Redis
from brewd.adapters.cache_ops import pipeline
from brewd.jobs.analytics_window import Batch, batches, cache_json, hour_key, window
from brewd.jobs.base import JobContext, JobResult, load_sql
from brewd.jobs.batches import BestEffortCache, plural, read

NAME = "aggregateAnalytics"

_NEWEST = load_sql("aggregate_analytics_newest")
_CAFES = load_sql("aggregate_analytics_cafes")
_UPSERT = load_sql("aggregate_analytics")
_INVERTED = load_sql("aggregate_analytics_inverted")


def run(ctx: JobContext) -> JobResult:
    newest = read(ctx, _NEWEST, {})
    start, end = window(
        ctx.now, newest[0]["newest"] if newest else None, ctx.config.analytics.max_backfill_hours
    )
    cafe_ids = [row["id"] for row in read(ctx, _CAFES, {})]
    outcomes: Counter[str] = Counter()
    cache = BestEffortCache(ctx)
    for batch in batches(start, end, cafe_ids, ctx.config.database.batch_size):
        rows = _upsert(ctx, batch)
        outcomes.update(row["outcome"] for row in rows)
        cache.run("analytics cache", partial(_cache, rows=rows))
    changed = outcomes["inserted"] + outcomes["updated"]
    message = _message(start, end, len(cafe_ids), outcomes) + _inverted(ctx, start, end)
    return JobResult(changed, message + cache.note())


def _inverted(ctx: JobContext, start: datetime, end: datetime) -> str:
    """Sessions of the window that end before they start: left out, said once per run."""
    count = read(ctx, _INVERTED, {"start": start, "end": end})[0]["n"]
    if not count:
        return ""
    verb = "it starts" if count == 1 else "they start"
    note = f"; ignored {plural(count, 'session')} ending before {verb}"
    ctx.log.bind(event="bad_sessions").warning("{}", note.removeprefix("; "))
    return note


def _upsert(ctx: JobContext, batch: Batch) -> list[dict[str, Any]]:
    params = {"cafe_ids": list(batch.cafe_ids), "start": batch.start, "end": batch.end}
    with ctx.batch() as conn:
        rows = conn.execute(_UPSERT, params).fetchall()
    ctx.log.bind(event="batch_committed").debug(
        "{} cafés x [{}, {}): {} rows", len(batch.cafe_ids), batch.start, batch.end, len(rows)
    )
    return rows


def _cache(redis: Redis, *, rows: list[dict[str, Any]]) -> None:
    pipe = pipeline(redis)
    for row in rows:
        key = keys.analytics(row["cafe_id"], hour_key(row["h"]))
        # SET ... EX is SETEX, which redis-py deprecates under its own name.
        pipe.set(key, cache_json(row), ex=keys.ANALYTICS_TTL_S)
    pipe.execute()


def _message(start: datetime, end: datetime, cafes: int, outcomes: Counter[str]) -> str:
    hours = int((end - start).total_seconds() // 3600)
    return (
        f"upserted {plural(outcomes['inserted'] + outcomes['updated'], 'row')} "
        f"({outcomes['inserted']:,} new, {outcomes['updated']:,} updated, "
        f"{outcomes['unchanged']:,} already right) for {plural(cafes, 'café')} x "
        f"{plural(hours, 'hour')} [{hour_key(start)}:00, {hour_key(end)}:00) UTC"
    )
