"""The server children of bench_control: the daemon's control plane on a real Scheduler, and a
bare asyncio server answering the same bytes (the machine's noise floor).

    python -m tests.bench.control_servers daemon SOCKET DSN   # READY on stdout, then serves
    python -m tests.bench.control_servers floor SOCKET BODYFILE

Each serves until its stdin closes; the daemon answers a `calls` line with `CALLS n`, the
number of status() calls that reached the scheduler.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import Any

from brewd.adapters.cache import make_client
from brewd.adapters.metrics import Metrics
from brewd.adapters.pg import Database
from brewd.control.port import SchedulerStatus
from brewd.control.server import ControlThread
from brewd.core.clock import SystemClock
from brewd.core.config import Config, ControlConfig, DatabaseConfig, RedisConfig
from brewd.daemon import build_scheduler
from brewd.jobs import ALL_JOBS
from brewd.jobs.base import JobContext, JobResult
from brewd.loop.scheduler import Scheduler
from tests.integration.control.conftest import control_of

REDIS_URL = os.environ.get("BREWD_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


class HeldJob:
    """expirePokes stand-in: holds a pooled connection in pg_sleep until stopped."""

    NAME = "expirePokes"

    def run(self, ctx: JobContext) -> JobResult:
        while not ctx.should_stop():
            ctx.conn.execute("SELECT pg_sleep(0.2)")
        return JobResult(0, "held for the benchmark")


class CountingPort:
    """Counts status() calls that reach the scheduler (to show what sharing answers saves)."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.node = port.node
        self.status_calls = 0

    def status(self) -> SchedulerStatus:
        self.status_calls += 1
        result: SchedulerStatus = self._port.status()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def _scheduler(socket_path: str, dsn: str) -> tuple[Scheduler, Database, Config]:
    config = Config(
        database=DatabaseConfig(url=dsn, pool_max_size=8),
        redis=RedisConfig(url=REDIS_URL),
        control=ControlConfig(socket=socket_path),
    )
    db = Database(config.database, application_name="brewd-bench")
    db.open(wait=True, timeout=10)
    scheduler = build_scheduler(
        config=config,
        db=db,
        cache=make_client(config.redis),
        jobs=dict(ALL_JOBS) | {"expirePokes": HeldJob()},
        clock=SystemClock(),
        metrics=Metrics(),
        node="bench:1",
    )
    return scheduler, db, config


def serve_daemon(socket_path: str, dsn: str) -> None:
    """The Scheduler with its loop, its control port and ControlThread, expirePokes held."""
    scheduler, db, config = _scheduler(socket_path, dsn)
    port = CountingPort(control_of(scheduler))
    control = ControlThread(port, scheduler.metrics, config.control)
    control.start(timeout=10)
    stop = threading.Event()
    threading.Thread(target=scheduler.run, args=(stop,), daemon=True).start()
    scheduler.runner.trigger("expirePokes", requested_by="benchmark")
    print("READY", flush=True)
    for line in sys.stdin:
        if line.strip() == "calls":
            print(f"CALLS {port.status_calls}", flush=True)
    stop.set()
    scheduler.wake()
    control.stop(timeout=5)
    scheduler.runner.shutdown(timeout=5)
    db.close()


def serve_floor(socket_path: str, body_file: str) -> None:
    """The same bytes from a bare asyncio server (no HTTP framework, no scheduler): what this
    machine's scheduling and the clients alone cost, measured side by side with the daemon."""
    with open(body_file, "rb") as f:
        body = f.read()
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
    reply %= (len(body), body)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_unix_server(answer, socket_path)
        print("READY", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


if __name__ == "__main__":
    kind, sock, arg = sys.argv[1:4]
    (serve_daemon if kind == "daemon" else serve_floor)(sock, arg)
