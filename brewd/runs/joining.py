"""Helping with a slot another node claimed: a job whose work is shared (one exposing
`join(ctx) -> int`, today proactiveMessages) is joined by every node whose claim of the slot
failed, while the claimer's run keeps the slot's one job_runs record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from brewd.jobs.base import JobContext

if TYPE_CHECKING:
    from brewd.runs.runner import Runner


def joins(runner: Runner, job: str) -> bool:
    return callable(getattr(runner.jobs[job], "join", None))


def join_slot(runner: Runner, job: str) -> None:
    """Take part in the job's open work on a pooled connection; never raises: a helper's
    failure leaves its work to the others and never touches the claimer's run."""
    log = logger.bind(job=job, event="slot_joined")
    config = runner.config()
    try:
        with runner.db.connection(timeout=config.database.connect_timeout) as conn:
            ctx = JobContext(
                conn=conn,
                cache=runner.cache,
                config=config,
                now=runner.clock.now(),
                log=log,
                should_stop=runner.closing,
                claude=runner.claude,
                db=runner.db,
                metrics=runner.metrics,
                node=runner.claims.node,
            )
            done = runner.jobs[job].join(ctx)  # type: ignore[attr-defined]
    except Exception as exc:  # any failure: logged, and the other nodes carry on
        log.warning("{} could not help the running slot: {}: {}", job, type(exc).__name__, exc)
        return
    if done:
        log.info("{}: helped the running slot with {} item(s)", job, done)
