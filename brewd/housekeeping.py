"""What the loop does once a minute besides slots: write outcomes left unwritten while the
database was down, close abandoned runs, count recent failures, prune the history."""

from __future__ import annotations

from loguru import logger

from brewd.config import Config
from brewd.errors import DatabaseError
from brewd.history import History
from brewd.metrics import Metrics
from brewd.runner import Runner

EVERY_S = 60.0  # how stale the abandoned-run sweep and the failure count may get
PRUNE_EVERY_S = 3600.0


class Housekeeping:
    """Periodic maintenance, driven by the loop's monotonic time."""

    def __init__(self, history: History, runner: Runner, metrics: Metrics) -> None:
        self.history, self.runner, self.metrics = history, runner, metrics
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
            self.runner.flush_pending()
            self.history.sweep_abandoned({name: job.timeout for name, job in config.jobs.items()})
            self.failures_last_hour = self.history.failures_last_hour()
            if mono - self.last_prune >= PRUNE_EVERY_S:
                self.last_prune = mono
                self.history.prune(config.history.keep_runs, config.history.keep_days)
            self.metrics.set_dependency_up("database", True)
        except DatabaseError as exc:
            self.metrics.set_dependency_up("database", False)
            logger.bind(event="housekeeping_failed").warning("housekeeping: {}", exc)
