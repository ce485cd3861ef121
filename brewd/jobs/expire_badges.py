"""expireBadges: deactivate badges past their expiry and drop their holders' badge cache."""

from __future__ import annotations

from brewd.adapters import cache
from brewd.adapters.cache_ops import pipeline, queue_delete
from brewd.jobs.base import JobContext, JobResult, load_sql
from brewd.jobs.batches import BestEffortCache, Row, drain, plural

NAME = "expireBadges"

_EXPIRE = load_sql("expire_badges")


def run(ctx: JobContext) -> JobResult:
    with BestEffortCache(ctx) as cached:
        return _run(ctx, cached)


def _run(ctx: JobContext, cached: BestEffortCache) -> JobResult:
    holders = 0

    def after_commit(rows: list[Row]) -> None:
        # Once per user and batch: a user whose badges fall in two batches is cleared after
        # each, since an API server may have cached the in-between state.
        nonlocal holders
        keys = {cache.user_badges(row["user_id"]) for row in rows}
        holders += len(keys)

        def clear(redis: cache.Redis) -> None:
            pipe = pipeline(redis)
            queue_delete(pipe, sorted(keys))
            pipe.execute()

        cached.run("badge cache cleanup", clear)

    done = drain(ctx, _EXPIRE, {"now": ctx.now}, after_commit, walks="expires_at")
    if not done.rows:
        return JobResult(0, "no badges to expire" + cached.note())
    return JobResult(
        done.rows,
        f"expired {plural(done.rows, 'badge')} of {plural(holders, 'user')} "
        f"in {plural(done.batches, 'batch')}{cached.note()}",
    )
