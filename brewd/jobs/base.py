"""What a job is and what it receives: a name, a default schedule, and run(ctx) -> JobResult."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Protocol

from brewd.adapters.cache import Redis
from brewd.adapters.claude import Writer
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Connection, wrap_errors
from brewd.core.config import Config
from brewd.core.errors import FenceLost, JobCancelled
from brewd.core.results import JobResult

if TYPE_CHECKING:
    from loguru import Logger


class Job(Protocol):
    """A job module exposes NAME and run(); its default schedule is in config.JOB_DEFAULTS."""

    NAME: str

    def run(self, ctx: JobContext) -> JobResult: ...


class ConnectionSource(Protocol):
    """Where a job's worker threads get connections of their own (brewd.adapters.pg.Database)."""

    def connection(self, timeout: float | None = None) -> AbstractContextManager[Connection]: ...


def this_node() -> str:
    """host:pid, as the ledger names nodes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _never() -> bool:
    return False


def _no_fence(conn: Connection) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """Everything one run may touch. `conn` is the run's own connection (autocommit): the
    runner set its statement and lock timeouts and can cancel its backend at the deadline."""

    conn: Connection
    cache: Redis
    config: Config
    now: datetime  # the run's reference time, aware UTC
    log: Logger
    run_id: int | None = None
    should_stop: Callable[[], bool] = _never
    fence: Callable[[Connection], None] = _no_fence
    claude: Writer | None = None  # None without an API key
    db: ConnectionSource | None = None  # the pool, for jobs that work on several connections
    metrics: Metrics | None = None  # for jobs with counters of their own
    node: str = field(default_factory=this_node)

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """One transaction of a run. Checks the stop flag before it starts and the run's fence
        just before it commits: a run that lost its claim, timed out or is being shut down
        commits nothing more, and every batch is either wholly done or untouched."""
        if self.should_stop():
            raise JobCancelled("stopped between batches")
        with wrap_errors(), self.conn.transaction():
            yield self.conn
            self.fence(self.conn)

    def check_stop(self) -> None:
        """Raise JobCancelled if the run should stop; call between non-database steps."""
        if self.should_stop():
            raise JobCancelled("stopped between batches")


def load_sql(name: str) -> str:
    """The text of brewd/jobs/sql/<name>.sql; job modules read theirs once, at import time."""
    return resources.files("brewd.jobs").joinpath("sql", f"{name}.sql").read_text("utf-8")


__all__ = ["FenceLost", "Job", "JobCancelled", "JobContext", "JobResult", "load_sql"]
