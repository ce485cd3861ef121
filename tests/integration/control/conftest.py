"""Control-server fixtures: a real Unix socket in a short temp dir, and a client for it."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.cli.client import ControlClient
from brewd.control.port import ControlPort
from brewd.control.server import ControlThread
from brewd.control.service import SchedulerControl
from brewd.core.clock import SystemClock
from brewd.core.config import (
    Config,
    ControlConfig,
    DatabaseConfig,
    HttpConfig,
    RedisConfig,
    SchedulerConfig,
)
from brewd.daemon import build_scheduler, control_port
from brewd.jobs import ALL_JOBS
from brewd.loop.scheduler import Scheduler
from tests.integration.control.stub_port import StubPort


@pytest.fixture
def sock_dir() -> Iterator[str]:
    """A short directory: Unix socket paths are limited to 107 bytes, pytest's tmp_path is long."""
    path = tempfile.mkdtemp(prefix="bc", dir="/tmp")
    os.chmod(path, 0o755)  # the socket itself is 0660: the test's other uid needs to reach it
    yield path
    shutil.rmtree(path, ignore_errors=True)


StartControl = Callable[..., ControlThread]


@pytest.fixture
def start_control(sock_dir: str) -> Iterator[StartControl]:
    """Start a ControlThread (stopped at the end); keyword arguments go to ControlConfig.

    Answers are not reused by default (fresh_for=0): these tests change the stub between two
    requests and expect to see it; test_answers_are_reused covers the production default.
    """
    started: list[ControlThread] = []

    def start(
        port: ControlPort,
        metrics: Metrics | None = None,
        fresh_for: float = 0.0,
        http: HttpConfig | None = None,
        **config: Any,
    ) -> ControlThread:
        config.setdefault("socket", os.path.join(sock_dir, "brewd.sock"))
        thread = ControlThread(
            port, metrics or Metrics(), ControlConfig(**config), http=http, fresh_for=fresh_for
        )
        thread.start(timeout=10)
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop(timeout=5)


@pytest.fixture
def stub() -> StubPort:
    return StubPort()


@pytest.fixture
def client(stub: StubPort, start_control: StartControl) -> Iterator[ControlClient]:
    """A client of a server backed by the stub port; every gate opened at the end."""
    thread = start_control(stub)
    yield ControlClient(thread.socket_path, timeout=10)
    for gate in stub.gates.values():
        gate.set()


MakeApi = Callable[..., tuple[ControlClient, Scheduler]]


@pytest.fixture
def make_api(
    database: Database, cache: redis.Redis, pg_dsn: str, redis_url: str, start_control: StartControl
) -> Iterator[MakeApi]:
    """A Scheduler with every real job, its loop running, behind a real control socket.
    `enabled=False` (the default) is ENABLE_SCHEDULER=false: no scheduled runs, so the
    test's manual runs are the only ones."""
    made: list[tuple[Scheduler, threading.Event]] = []

    def make(
        *, enabled: bool = False, db: Database = database, **control: Any
    ) -> tuple[ControlClient, Scheduler]:
        config = Config(
            database=DatabaseConfig(url=pg_dsn),
            redis=RedisConfig(url=redis_url),
            scheduler=SchedulerConfig(enabled=enabled, workers=4),
        )
        scheduler = build_scheduler(
            config=config, db=db, cache=cache, jobs=ALL_JOBS, clock=SystemClock(),
            metrics=Metrics(), node="test-node:1",
        )  # fmt: skip
        stop = threading.Event()
        threading.Thread(target=scheduler.run, args=(stop,), daemon=True).start()
        made.append((scheduler, stop))
        thread = start_control(control_of(scheduler), scheduler.metrics, **control)
        return ControlClient(thread.socket_path, timeout=30), scheduler

    yield make
    for scheduler, stop in made:
        stop.set()
        scheduler.wake()
        scheduler.runner.shutdown(timeout=10)


def control_of(scheduler: Scheduler) -> SchedulerControl:
    """The control port over a scheduler, wired as daemon.py wires it."""
    return control_port(scheduler)
