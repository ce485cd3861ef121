"""The daemon's composition root: build the adapters, start the control server and the loop,
turn signals into actions, and shut down in order."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

from loguru import logger

from brewd import __version__
from brewd.adapters.cache import Redis, make_client
from brewd.adapters.claude import Writer, make_claude
from brewd.adapters.logs import register_secrets, set_level, setup_logging
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.adapters.systemd import Notifier, StatusNotifier, require_systemd_support
from brewd.control.server import ControlThread
from brewd.control.service import SchedulerControl
from brewd.core.clock import Clock, SystemClock
from brewd.core.config import Config
from brewd.core.errors import ConfigError
from brewd.core.exits import EX_OK, EX_SOFTWARE
from brewd.jobs import ALL_JOBS, Job
from brewd.loop.housekeeping import Housekeeping
from brewd.loop.scheduler import Scheduler
from brewd.loop.ticker import Ticker
from brewd.runs.claims import Claims
from brewd.runs.history import History
from brewd.runs.records import Records
from brewd.runs.runner import Runner

# Signals are blocked in every thread and taken by the main thread with sigwait(), so a
# handler never runs in the middle of the loop's work: the main thread only records what
# arrived and tells the loop (the supervisor `SignalReceiver` idea, without async handlers).
# SIGUSR1 is internal: the loop thread raises it if it ever ends on its own.
HANDLED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1}
# Settings a reload cannot change (bound at start: the pool, the Redis client, the sockets, the
# thread pool, the log files, the Claude client); a reload says so in the log.
RESTART_ONLY = (
    "database",
    "redis",
    "control",
    "http",
    "scheduler.workers",
    "logging.dir",
    "proactive.api_key",
    "proactive.base_url",
    "proactive.model",
    "proactive.max_tokens",
    "proactive.timeout",
    "proactive.max_retries",
)


def run_daemon(
    config: Config, environ: Mapping[str, str], *, load_config: Callable[[], Config]
) -> int:
    """`brewd run`: the daemon in the foreground until SIGTERM or SIGINT. `load_config` reads
    the configuration again from the same sources (file, environment, flags) on SIGHUP."""
    require_systemd_support(environ)
    setup_logging(config.logging, environ)
    register_secrets(config)
    daemon = Daemon(config, environ, reload_config=load_config)
    return daemon.run()


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_scheduler(
    *,
    config: Config,
    db: Database,
    cache: Redis,
    jobs: Mapping[str, Job],
    clock: Clock,
    metrics: Metrics,
    node: str,
    claude: Writer | None = None,
    notifier: StatusNotifier | None = None,
) -> Scheduler:
    """The loop and what it drives, on adapters already open: the one place runs/ and loop/
    are wired together (the daemon uses it, and the tests, with their own adapters)."""
    claims, records, history = Claims(db, node), Records(db, node), History(db, node)
    runner = Runner(
        db=db,
        cache=cache,
        claims=claims,
        records=records,
        metrics=metrics,
        jobs=jobs,
        clock=clock,
        config=config,
        claude=claude,
    )
    housekeeping = Housekeeping(
        claims=claims,
        records=records,
        history=history,
        runner=runner,
        metrics=metrics,
        cache=cache,
    )
    return Scheduler(
        config=config,
        runner=runner,
        records=records,
        history=history,
        housekeeping=housekeeping,
        ticker=Ticker(),
        notifier=notifier,
    )


def control_port(scheduler: Scheduler) -> SchedulerControl:
    """The control API's view of a scheduler: only what it reads (control/service.py)."""
    return SchedulerControl(
        node=scheduler.node,
        loop=scheduler,
        runner=scheduler.runner,
        history=scheduler.history,
        records=scheduler.records,
        db=scheduler.db,
        ping_redis=scheduler.cache.ping,
        metrics=scheduler.metrics,
        clock=scheduler.clock,
    )


class Daemon:
    """Owns every long-lived object and the order in which they start and stop."""

    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str],
        *,
        reload_config: Callable[[], Config],
        jobs: Mapping[str, Job] = ALL_JOBS,
        clock: Clock | None = None,
        on_ready: Callable[[], None] | None = None,
        hangup_reloads: bool = True,
    ) -> None:
        self.config = config
        self.on_ready = on_ready  # called once, when the socket listens and the loop runs
        self.hangup_reloads = hangup_reloads  # False: SIGHUP stops (a terminal that closed)
        self.reload_config = reload_config
        self.notifier = Notifier(environ)
        self.db = Database(config.database)
        self.cache = make_client(config.redis)
        self.metrics = Metrics()
        self.claude = make_claude(config.proactive)
        self.scheduler = build_scheduler(
            config=config,
            db=self.db,
            cache=self.cache,
            jobs=jobs,
            clock=clock or SystemClock(),
            metrics=self.metrics,
            node=node_name(),
            claude=self.claude,
            notifier=self.notifier,
        )
        port = control_port(self.scheduler)
        self.control = ControlThread(port, self.metrics, config.control, http=config.http)
        self.stop = threading.Event()
        self.loop_failed = False

    def run(self) -> int:
        # Block before any thread exists: threads inherit the mask, so only sigwait() sees them.
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        self.db.open(wait=False)  # never wait: with the database down we start degraded
        probe = threading.Thread(
            target=self.db.probe_forever, args=(self.stop,), name="brewd-db-probe", daemon=True
        )
        probe.start()
        try:
            self.control.start(timeout=10.0)
        except BaseException:
            self._close_adapters()
            raise
        loop = threading.Thread(target=self._loop, name="brewd-loop", daemon=True)
        loop.start()
        self.notifier.ready(self.scheduler.status_line(self.scheduler.clock.now()))
        if self.on_ready is not None:
            self.on_ready()
        logger.bind(event="daemon_started").info(
            "brewd {} started on {} (socket {}, scheduler {})",
            __version__,
            self.scheduler.node,
            self.config.control.socket,
            "on" if self.config.scheduler.enabled else "off (ENABLE_SCHEDULER=false)",
        )
        self._wait_for_signals()
        self._shutdown(loop)
        return EX_SOFTWARE if self.loop_failed else EX_OK

    def _loop(self) -> None:
        try:
            self.scheduler.run(self.stop)
        except BaseException as exc:
            self.loop_failed = True
            logger.bind(event="loop_died").opt(exception=exc).critical("scheduling loop died")
        finally:
            if not self.stop.is_set():
                os.kill(os.getpid(), signal.SIGUSR1)

    def _wait_for_signals(self) -> None:
        while True:
            signum = signal.sigwait(HANDLED_SIGNALS)
            if signum != signal.SIGHUP or not self.hangup_reloads:
                name = signal.Signals(signum).name
                logger.bind(event="signal").info("{} received: shutting down", name)
                return
            self.reload()

    def reload(self) -> None:
        """SIGHUP: a new configuration for log level, schedules and enable flags; running jobs
        carry on. A bad configuration is rejected and the old one kept."""
        self.notifier.reloading()
        try:
            new = self.reload_config()
        except ConfigError as exc:
            logger.bind(event="config_rejected").error(
                "reload rejected, keeping the old configuration: {}", exc
            )
        else:
            for key in restart_only_changes(self.config, new):
                logger.bind(event="config_needs_restart").warning(
                    "{} changed: takes effect after a restart", key
                )
            set_level(new.logging.level)
            register_secrets(new)
            self.scheduler.reload(new)
            self.config = new
            logger.bind(event="config_reloaded").info("configuration reloaded")
        self.notifier.ready(self.scheduler.status_line(self.scheduler.clock.now()))

    def _shutdown(self, loop: threading.Thread) -> None:
        timeout = self.config.scheduler.shutdown_timeout
        running = sorted(self.scheduler.runner.running())
        self.notifier.stopping(
            f"stopping: waiting up to {timeout:g}s for {len(running)} running job(s)"
        )
        self.notifier.extend_timeout(timeout + 15.0)
        self.stop.set()
        self.scheduler.wake()
        loop.join(timeout=5.0)
        cancelled = self.scheduler.runner.shutdown(timeout)
        if cancelled:
            logger.bind(event="jobs_cancelled").warning(
                "cancelled at shutdown: {}", ", ".join(cancelled)
            )
        self.control.stop(timeout=5.0)
        self._close_adapters()
        logger.bind(event="daemon_stopped").info("brewd stopped")

    def _close_adapters(self) -> None:
        if self.claude is not None:
            self.claude.close()
        self.cache.close()
        self.db.close(timeout=5.0)


def restart_only_changes(old: Config, new: Config) -> list[str]:
    changed = []
    for key in RESTART_ONLY:
        section, _, field = key.partition(".")
        before: Any = getattr(old, section)
        after: Any = getattr(new, section)
        if field:
            before, after = getattr(before, field), getattr(after, field)
        if before != after:
            changed.append(key)
    return changed
