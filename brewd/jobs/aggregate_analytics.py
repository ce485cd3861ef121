"""aggregateAnalytics: one analytics row per active café and closed UTC hour (SPEC §4)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from functools import partial
from typing import Any

from brewd.adapters import cache as keys
from brewd.adapters.cache import Redis
from brewd.adapters.cache_ops import pipeline
from brewd.adapters.pg import wrap_errors
from brewd.jobs.analytics_window import (
    HOUR,
    batch_starts,
    cache_json,
    chunks,
    hour_key,
    window,
)
from brewd.jobs.base import JobContext, JobResult, load_sql
from brewd.jobs.batches import BestEffortCache, plural, read

NAME = "aggregateAnalytics"

_NEWEST = load_sql("aggregate_analytics_newest")
_COMPUTE = "CREATE TEMPORARY TABLE analytics_computed AS " + load_sql("aggregate_analytics_compute")
_NUMBERED = "ALTER TABLE pg_temp.analytics_computed ADD PRIMARY KEY (n)"
_DROP = "DROP TABLE IF EXISTS pg_temp.analytics_computed"
_UPSERT = load_sql("aggregate_analytics")
_INVERTED = load_sql("aggregate_analytics_inverted")
# The compute statement's sorts and hashes: at 1M users its intermediate rows are ~100 MB and
# PostgreSQL's default 4 MB sends them to temporary files. Set for that one statement only.
COMPUTE_WORK_MEM = "32MB"


def run(ctx: JobContext) -> JobResult:
    newest = read(ctx, _NEWEST, {})
    start, end = window(
        ctx.now, newest[0]["newest"] if newest else None, ctx.config.analytics.max_backfill_hours
    )
    outcomes: Counter[str] = Counter()
    cafes = 0
    try:
        with BestEffortCache(ctx) as cache:
            for span_start, span_end in chunks(start, end):
                cafes = _aggregate(ctx, cache, span_start, span_end, outcomes)
    finally:
        if not ctx.conn.closed:
            ctx.conn.execute(_DROP)
    changed = outcomes["inserted"] + outcomes["updated"]
    message = _message(start, end, cafes, outcomes) + _inverted(ctx, start, end)
    return JobResult(changed, message + cache.note())


def _aggregate(
    ctx: JobContext, cache: BestEffortCache, start: datetime, end: datetime, outcomes: Counter[str]
) -> int:
    """Compute the rows of [start, end) once, then upsert them batch_size rows a transaction,
    each batch's cache work after its commit. Returns the number of cafés."""
    computed = _compute(ctx, start, end)
    size = ctx.config.database.batch_size
    for after in batch_starts(computed, size):
        with ctx.batch() as conn:
            rows = conn.execute(_UPSERT, {"after": after, "batch": size}).fetchall()
        ctx.log.bind(event="batch_committed").debug(
            "rows {} to {} of {}: {} upserted", after + 1, after + len(rows), computed, len(rows)
        )
        outcomes.update(row["outcome"] for row in rows)
        cache.run("analytics cache", partial(_cache, rows=rows))
    return computed // int((end - start) / HOUR)


def _compute(ctx: JobContext, start: datetime, end: datetime) -> int:
    """Step 1, read-only: every active café's rows for [start, end), into the run's temporary
    table analytics_computed (this connection only; dropped at the end of the run, and first
    thing by the next one should a failed run have left it). Returns the rows computed."""
    ctx.check_stop()
    with wrap_errors(), ctx.conn.transaction():
        ctx.conn.execute(_DROP)
        ctx.conn.execute(f"SET LOCAL work_mem = '{COMPUTE_WORK_MEM}'")
        computed = ctx.conn.execute(_COMPUTE, {"start": start, "end": end}).rowcount
        ctx.conn.execute(_NUMBERED)
    return computed


def _inverted(ctx: JobContext, start: datetime, end: datetime) -> str:
    """Sessions of the window that end before they start: left out, said once per run."""
    count = read(ctx, _INVERTED, {"start": start, "end": end})[0]["n"]
    if not count:
        return ""
    verb = "it starts" if count == 1 else "they start"
    note = f"; ignored {plural(count, 'session')} ending before {verb}"
    ctx.log.bind(event="bad_sessions").warning("{}", note.removeprefix("; "))
    return note


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
