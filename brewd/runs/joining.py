"""Helping with a slot another node claimed: a job whose work is shared (one exposing
`join(ctx) -> int`, today proactiveMessages) is joined by every node whose claim of the slot
failed, while the claimer's run keeps the slot's one job_runs record."""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from brewd.core.config import Config
from brewd.jobs.base import Job
from brewd.runs.execution import Services


def joins(job: Job) -> bool:
    return callable(getattr(job, "join", None))


def join_slot(
    services: Services, name: str, job: Job, config: Config, closing: Callable[[], bool]
) -> None:
    """Take part in the job's open work on a pooled connection; never raises: a helper's
    failure leaves its work to the others and never touches the claimer's run."""
    log = logger.bind(job=name, event="slot_joined")
    try:
        with services.db.connection(timeout=config.database.connect_timeout) as conn:
            ctx = services.context(conn, config, log, should_stop=closing)
            done = job.join(ctx)  # type: ignore[attr-defined]
    except Exception as exc:  # any failure: logged, and the other nodes carry on
        log.warning("{} could not help the running slot: {}: {}", name, type(exc).__name__, exc)
        return
    if done:
        log.info("{}: helped the running slot with {} item(s)", name, done)
