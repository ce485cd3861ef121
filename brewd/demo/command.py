"""`brewd demo`: real servers, a café world, every job run once, then the daemon until Ctrl-C.

With DATABASE_URL and REDIS_URL given, those servers are used (the database must hold no
cafés yet); whatever is missing comes from brewd.embedded, in a private temporary directory
that is removed on exit. The jobs run through the daemon's own runner, as `brewctl trigger`
would run them, so each run is recorded in job_runs.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import ExitStack
from pathlib import Path

from brewd.adapters.logs import register_secrets, set_level, setup_logging
from brewd.adapters.pg import connect_once, wrap_errors
from brewd.core.clock import SystemClock
from brewd.core.config import Config
from brewd.daemon import HANDLED_SIGNALS, Daemon
from brewd.db import migrate
from brewd.demo import worldgen
from brewd.demo.report import JobOutcome, outcome_of, summary_table, world_summary
from brewd.embedded import EmbeddedServers
from brewd.runs.records import RunRecord

# "A few dozen cafés, a few thousand users": enough for every job to have real work, small
# enough to generate in about a second.
DEMO_CAFES = 36
DEMO_USERS = 3_000
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
POLL = 0.1  # seconds between checks for Ctrl-C while a demo run is going


def say(line: str = "") -> None:
    print(line, flush=True)


# The configuration read from an environment (the command line's flags applied on top).
LoadConfig = Callable[[Mapping[str, str]], Config]


def run_demo(environ: Mapping[str, str], *, load_config: LoadConfig, loud: bool) -> int:
    """The demo; `loud`: keep the configured log level (otherwise warnings only until the
    jobs have run once)."""
    with ExitStack() as stack:
        servers = _servers(environ, stack)
        env = _demo_environ(environ, servers, stack)
        config = load_config(env)
        quiet = config.logging if loud else dataclasses.replace(config.logging, level="warning")
        setup_logging(quiet, env)
        register_secrets(config)
        _prepare_database(config)
        return _run_daemon(config, lambda: load_config(env), env)
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


def _servers(environ: Mapping[str, str], stack: ExitStack) -> EmbeddedServers | None:
    if environ.get("DATABASE_URL") and environ.get("REDIS_URL"):
        say("Using the servers in DATABASE_URL and REDIS_URL.")
        return None
    say("Starting PostgreSQL and Redis in a private temporary directory (Unix sockets only)...")
    return stack.enter_context(EmbeddedServers(log=lambda line: say(f"  {line}")))


def _demo_environ(
    environ: Mapping[str, str], servers: EmbeddedServers | None, stack: ExitStack
) -> dict[str, str]:
    """The demo's settings as environment variables: flags and --set still win over them."""
    env = dict(environ)
    if servers is not None:
        env["DATABASE_URL"] = env.get("DATABASE_URL") or servers.database_url
        env["REDIS_URL"] = env.get("REDIS_URL") or servers.redis_url
    if not env.get("BREWD_CONTROL_SOCKET"):
        if servers is not None and servers.directory is not None:
            home = servers.directory  # removed with the servers, even after a SIGKILL
        else:
            home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="brewd-demo-")))
        env["BREWD_CONTROL_SOCKET"] = str(home / "brewd.sock")
    # The socket belongs to our own group: a `brewd` group need not exist for the demo.
    group = grp.getgrgid(os.getegid()).gr_name
    env.setdefault("BREWD_CONTROL_GROUP", group)
    env.setdefault("BREWD_CONTROL_ADMIN_GROUP", group)
    env.setdefault("ENABLE_PROACTIVE_MESSAGES", "true")  # templates, unless an API key is set
    return env


def _prepare_database(config: Config) -> None:
    with wrap_errors(), connect_once(config.database, application_name="brewd-demo") as conn:
        conn.autocommit = True
        applied = migrate.apply(conn)
        say(f"Schema ready ({', '.join(applied) if applied else 'already up to date'}).")
        zones = len(worldgen.ZONES)
        say(
            f"Generating a café world: {DEMO_CAFES} cafés in {zones} time zones, "
            f"{DEMO_USERS:,} users, the last days of sessions, pokes and messages..."
        )
        stats = worldgen.generate(
            conn,
            users=DEMO_USERS,
            cafes=DEMO_CAFES,
            now=SystemClock().now(),
            progress=lambda line: say(f"  {line}"),
        )
    say(world_summary(stats))


def _run_daemon(config: Config, reload_config: Callable[[], Config], env: dict[str, str]) -> int:
    # As Daemon.run does, and before any thread exists, so that every thread inherits the mask
    # and a Ctrl-C from now on reaches the daemon's orderly shutdown.
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    daemon = Daemon(
        config,
        env,
        reload_config=reload_config,
        # Printed once the socket listens, so whoever reads the path can use it at once.
        on_ready=lambda: _say_how_to_try(config.control.socket),
        # A hangup means the terminal closed: left running, the demo and its servers would
        # outlive the session, so it stops as on SIGTERM instead of reloading.
        hangup_reloads=False,
    )
    try:
        daemon.db.open(wait=True, timeout=config.database.connect_timeout)
        outcomes = _run_every_job_once(daemon)
    except BaseException:
        daemon.cache.close()
        daemon.db.close()
        raise
    say()
    say("Every job, run once through the daemon's runner (recorded in job_runs):")
    say(summary_table(outcomes))
    say()
    # The demo has just run every job: the schedule starts from the next slot, without the
    # start-up catch-up that would run them all again.
    daemon.scheduler.start_from_now(daemon.scheduler.clock.now())
    set_level(config.logging.level)
    return daemon.run()


def _run_every_job_once(daemon: Daemon) -> list[JobOutcome]:
    outcomes = []
    for job in daemon.scheduler.jobs:
        record = None
        if not _stop_requested():
            run = daemon.scheduler.runner.trigger(job, requested_by="brewd demo")
            record = _result(run.future)
        outcomes.append(outcome_of(job, record))
    if _stop_requested():
        say("Interrupted: stopping.")
    return outcomes


def _stop_requested() -> bool:
    """A Ctrl-C or SIGTERM is pending (blocked, it waits for the daemon to take it)."""
    return bool(signal.sigpending() & STOP_SIGNALS)


def _result(future: Future[RunRecord]) -> RunRecord | None:
    """The run's record, or None if a stop was requested first (the daemon then cancels it)."""
    while not _stop_requested():
        try:
            return future.result(timeout=POLL)
        except FutureTimeout:
            continue
    return None


def _say_how_to_try(socket: str) -> None:
    brewctl = Path(sys.executable).with_name("brewctl")
    command = str(brewctl) if brewctl.exists() else (shutil.which("brewctl") or "brewctl")
    say("brewd is running: each job now fires on its cron schedule. Ctrl-C stops everything.")
    say(f"control socket: {socket}")
    say("Try, in another terminal:")
    for sub in ("status", "health", "history calculateBadges", "trigger expirePokes"):
        say(f"  {command} --socket {socket} {sub}")
