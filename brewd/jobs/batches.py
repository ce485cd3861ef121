"""Batched database work and best-effort cache work, shared by the expiry jobs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from brewd.adapters import cache
from brewd.adapters.cache import Redis
from brewd.adapters.pg import wrap_errors
from brewd.core.errors import CacheError
from brewd.jobs.base import JobContext

Row = dict[str, Any]
MAX_QUEUED = 8  # cache steps waiting for the worker thread, at most
WALK_START = datetime(1, 1, 1, tzinfo=UTC)  # where a drain's walk starts


@dataclass(frozen=True)
class Drained:
    """What a drain did: rows returned by all its batches, and how many transactions it took."""

    rows: int
    batches: int


def drain(
    ctx: JobContext,
    statement: str,
    params: Mapping[str, Any],
    after_commit: Callable[[list[Row]], None],
    *,
    walks: str,
) -> Drained:
    """Run `statement` (which handles at most %(batch)s rows and returns one row per row
    changed) in one transaction after another until a batch comes back short. Each batch
    passes ctx.batch() (stop flag before, fence before commit); `after_commit` gets the rows
    of each batch once it is committed, never before.

    The statement picks its rows by walking an index in the order of column `walks`, from
    %(after)s on (inclusive), and returns that column: each batch starts where the last one
    stopped. Started from the beginning instead, every batch would step over the index entries
    of every row the earlier batches changed; those entries stay until VACUUM and, while any
    transaction could still see the old rows, cost a heap visit each time (quadratic in the
    batches; measured with another transaction open: 120,000 of 3M badges in 25 batches took
    6.5 s walked from the start, 3.5 s resumed, 3.6 s as one statement). A row that another
    transaction commits behind the walk during the run is left for the next run, as a single
    statement's snapshot would leave it."""
    size = ctx.config.database.batch_size
    after = WALK_START
    total = batches = 0
    while True:
        with ctx.batch() as conn:
            rows = conn.execute(statement, {**params, "batch": size, "after": after}).fetchall()
        batches += 1
        total += len(rows)
        ctx.log.bind(event="batch_committed").debug("batch {}: {} rows", batches, len(rows))
        if rows:
            after = max(row[walks] for row in rows)
            after_commit(rows)
        if len(rows) < size:
            return Drained(total, batches)


class BestEffortCache:
    """Redis work that follows a commit, on one background thread, in submission order: a
    batch's cache work overlaps the next batch's database work instead of adding to it.
    A failure is logged (event cache_failed) and remembered; the run's later steps are
    skipped, so a dead or hanging Redis costs the run one timeout at most and never blocks or
    undoes database work. Use as a context manager: leaving it waits for every step."""

    def __init__(self, ctx: JobContext) -> None:
        self._ctx = ctx
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brewd-cache")
        self._pending: list[Future[None]] = []
        self.error: str | None = None

    def __enter__(self) -> BestEffortCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wait()
        self._worker.shutdown()

    def run(self, what: str, step: Callable[[Redis], object]) -> None:
        """Queue `step`; call only after the commit whose rows it reflects. Waits while
        MAX_QUEUED steps are queued: a Redis slower than the database holds back the producer
        instead of piling up every batch's keys in memory."""
        while len(self._pending) >= MAX_QUEUED:
            self._pending.pop(0).result()
        self._pending.append(self._worker.submit(self._attempt, what, step))

    def wait(self) -> None:
        """Block until every queued step has run (or been skipped)."""
        for future in self._pending:
            future.result()
        self._pending.clear()

    def _attempt(self, what: str, step: Callable[[Redis], object]) -> None:
        if self.error is not None:
            return
        try:
            with cache.wrap_errors():
                step(self._ctx.cache)
        except CacheError as exc:
            self.error = str(exc)
            self._ctx.log.bind(event="cache_failed").warning("{} failed: {}", what, exc)

    def note(self) -> str:
        """The suffix for the run's message: empty, or why the cache is not up to date."""
        self.wait()
        return f"; cache update failed: {self.error}" if self.error else ""


def read(ctx: JobContext, statement: str, params: Mapping[str, Any]) -> list[Row]:
    """A read outside any batch, on the run's autocommit connection."""
    with wrap_errors():
        return ctx.conn.execute(statement, params).fetchall()


def plural(count: int, noun: str) -> str:
    """`1 user`, `2 users`, `3 batches`."""
    if count == 1:
        return f"1 {noun}"
    return f"{count:,} {noun}{'es' if noun.endswith(('ch', 'sh', 's', 'x')) else 's'}"
