"""What the loop does once a minute besides slots: write outcomes left unwritten while the
database was down, close abandoned runs, count recent failures, prune the history."""

from __future__ import annotations

from loguru import logger

from brewd.adapters.cache import Redis
from brewd.adapters.cache import wrap_errors as wrap_cache_errors
from brewd.adapters.metrics import Metrics
from brewd.core.config import Config
from brewd.core.errors import CacheError, DatabaseError, DatabaseUnavailable
from brewd.runs.claims import Claims
from brewd.runs.history import History
from brewd.runs.records import Records
from brewd.runs.runner import Runner

EVERY_S = 60.0  # how stale the abandoned-run sweep and the failure count may get
PRUNE_EVERY_S = 3600.0


class Housekeeping:
    """Periodic maintenance, driven by the loop's monotonic time."""

    def __init__(
        self,
        *,
        claims: Claims,
        records: Records,
        history: History,
        runner: Runner,
        metrics: Metrics,
        cache: Redis,
    ) -> None:
        self.claims, self.records, self.history = claims, records, history
        self.runner, self.metrics, self.cache = runner, metrics, cache
        self.database_up = True
        self.redis_up = True
        self.last = float("-inf")
        self.last_prune = float("-inf")
        self.failures_last_hour = 0

    def due_in(self, mono: float) -> float:
        return self.last + EVERY_S - mono

    def run(self, mono: float, config: Config) -> None:
        if self.due_in(mono) > 0:
            return
        self.last = mono
        try:
            # Skipped while the database is known down: the state already says so, once.
            self.history.db.state.raise_if_down()
            self.runner.flush_pending()
            self.claims.sweep_abandoned({name: job.timeout for name, job in config.jobs.items()})
            self.failures_last_hour = self.history.failures_last_hour()
            self._publish_job_state(config)
            if mono - self.last_prune >= PRUNE_EVERY_S:
                self.last_prune = mono
                self.records.prune(config.history.keep_runs, config.history.keep_days)
            self.database_up = True
        except DatabaseUnavailable:
            self.database_up = False
        except DatabaseError as exc:
            self.database_up = False
            logger.bind(event="housekeeping_failed").warning("housekeeping: {}", exc)
        self.redis_up = self._redis_answers()
        self.metrics.set_dependency_up("database", self.database_up)
        self.metrics.set_dependency_up("redis", self.redis_up)

    def _publish_job_state(self, config: Config) -> None:
        """Pauses and last successes as job_runs has them, whichever node wrote them: after a
        restart the metrics know the cluster's last success, not only this process's."""
        paused = self.history.paused()
        for name in config.jobs:
            self.metrics.set_paused(name, name in paused)
        for name, finished in self.history.last_successes().items():
            self.metrics.seen_success(name, finished)

    def _redis_answers(self) -> bool:
        try:
            with wrap_cache_errors():
                self.cache.ping()
        except CacheError as exc:
            if self.redis_up:  # log the change, not every minute of an outage
                logger.bind(event="redis_down").warning("Redis does not answer: {}", exc)
            return False
        return True

    def degraded(self) -> list[str]:
        """Dependencies that failed at the last look, for the status line."""
        database_up = self.database_up and not self.history.db.state.is_down
        return [
            name for name, up in (("database", database_up), ("redis", self.redis_up)) if not up
        ]
