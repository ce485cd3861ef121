"""expirePokes: soft-expire pokes past their expiry, refresh both sides' cache, purge old ones."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from brewd.adapters import cache
from brewd.adapters.cache import Redis
from brewd.adapters.cache_ops import pipeline, queue_delete, queue_set_many
from brewd.jobs.base import JobContext, JobResult, load_sql
from brewd.jobs.batches import BestEffortCache, Row, drain, plural

NAME = "expirePokes"

_EXPIRE = load_sql("expire_pokes")
_PURGE = load_sql("expire_pokes_purge")


def run(ctx: JobContext) -> JobResult:
    with BestEffortCache(ctx) as cached:
        return _run(ctx, cached)


def _run(ctx: JobContext, cached: BestEffortCache) -> JobResult:
    expired = drain(
        ctx, _EXPIRE, {"now": ctx.now}, lambda rows: _refresh(ctx, cached, rows), walks="expires_at"
    )
    days = ctx.config.pokes.retention_days
    cutoff = ctx.now - timedelta(days=days)
    purged = drain(ctx, _PURGE, {"cutoff": cutoff}, lambda rows: None, walks="expired_at")
    if not expired.rows and not purged.rows:
        return JobResult(0, "no pokes to expire or purge" + cached.note())
    return JobResult(
        expired.rows,
        f"expired {plural(expired.rows, 'poke')}, purged {purged.rows:,} "
        f"expired more than {days} days ago{cached.note()}",
    )


def _refresh(ctx: JobContext, cached: BestEffortCache, rows: list[Row]) -> None:
    """After a batch's commit: drop both sides' poke lists and set each sender's count of
    live sent pokes, counted by the batch's own statement (exact, so a drifted count is
    repaired)."""
    if cached.error is not None:
        return  # Redis is known to be down: there is nothing to write the counts to
    counts = {row["from_user_id"]: row["live_sent"] for row in rows}
    users = sorted(counts) + sorted({row["to_user_id"] for row in rows})
    cached.run("poke cache refresh", lambda redis: _write(redis, users, counts))


def _write(redis: Redis, users: list[UUID], counts: dict[UUID, int]) -> None:
    pipe = pipeline(redis)
    queue_delete(pipe, (cache.user_pokes_sent(user) for user in users))
    queue_delete(pipe, (cache.user_pokes_received(user) for user in users))
    queue_set_many(pipe, {cache.user_poke_count(user): count for user, count in counts.items()})
    pipe.execute()
