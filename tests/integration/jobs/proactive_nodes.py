"""Several proactiveMessages nodes on one database: in threads (each its own connections and
budget door, only PostgreSQL and Redis shared) or in processes (tests.integration.jobs
.proactive_node, the real Runner)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import psycopg
import redis
from psycopg.rows import dict_row

from brewd.core.config import JobConfig
from brewd.core.cron import Cron
from brewd.jobs.base import JobResult
from brewd.jobs.proactive import messages as proactive_messages
from tests.integration.jobs.proactive_world import Conn, make_ctx, writer_for

# Every café: two people with a session open since an hour before now (the "duo" trigger).
WORLD_SQL = """
WITH c AS (
    INSERT INTO cafes (name, location, enable_proactive_messages)
    SELECT 'Scale café ' || g, 'Main St', true FROM generate_series(1, %(n)s) g RETURNING id
), u AS (
    INSERT INTO users (username, cafe_id, expires_at)
    SELECT 'guest' || k, c.id, %(now)s + interval '1 day' FROM c, generate_series(1, 2) k
    RETURNING id
)
INSERT INTO user_sessions (user_id, started_at) SELECT id, %(now)s - interval '1 hour' FROM u
"""


def duo_cafes(pg: Conn, n: int, now: datetime) -> None:
    pg.execute(WORLD_SQL, {"n": n, "now": now})


def running_row(pg: Conn, slot: datetime, node: str = "claimer:1") -> int:
    """The claimer's job_runs row, as the runner's claim writes it."""
    row = pg.execute(
        "INSERT INTO job_runs (job, slot, trigger, node, started_at, status)"
        " VALUES ('proactiveMessages', %s, 'schedule', %s, now(), 'running') RETURNING id",
        (slot, node),
    ).fetchone()
    assert row is not None
    return int(row["id"])


@dataclass
class ThreadNodes:
    """Node 0 claims (run), the others join; each on connections of its own."""

    dsn: str
    cache: redis.Redis
    base_url: str
    now: datetime
    run_id: int
    settings: dict[str, Any]
    schedule: str = "*/2 * * * *"  # the round's window follows the job's period
    result: list[JobResult] = field(default_factory=list)
    joined: dict[str, int] = field(default_factory=dict)

    def run(self, nodes: int) -> JobResult:
        threads = [threading.Thread(target=self._claimer)] + [
            threading.Thread(target=self._helper, args=(f"helper{i}:1",)) for i in range(1, nodes)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a node did not finish"
        [result] = self.result
        return result

    def _ctx(self, conn: Conn, node: str) -> Any:
        writer = writer_for(self.base_url, max_retries=1)
        ctx = make_ctx(conn, self.cache, self.now, claude=writer, node=node, **self.settings)
        jobs = {**ctx.config.jobs, "proactiveMessages": JobConfig(schedule=Cron(self.schedule))}
        return replace(ctx, config=replace(ctx.config, jobs=jobs))

    def _claimer(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            ctx = self._ctx(conn, "claimer:1")
            self.result.append(proactive_messages.run(replace(ctx, run_id=self.run_id)))

    def _helper(self, node: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            self.joined[node] = proactive_messages.join(self._ctx(conn, node))


@dataclass
class NodeProcess:
    name: str
    process: subprocess.Popen[str]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@contextmanager
def node_processes(count: int, **options: Any) -> Iterator[list[NodeProcess]]:
    """`count` node processes, all ready; the caller sends them off with `go(nodes)`."""
    nodes = []
    try:
        for i in range(count):
            argv = [sys.executable, "-m", "tests.integration.jobs.proactive_node"]
            argv += ["--node", f"node{i}:{os.getpid()}"]
            for key, value in options.items():
                argv += [f"--{key.replace('_', '-')}", str(value)]
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
            nodes.append(NodeProcess(f"node{i}:{os.getpid()}", process))
        for node in nodes:
            assert node.process.stdout is not None
            line = node.process.stdout.readline()  # blocks until ready, or "" if it died
            assert line.strip() == "ready", f"{node.name} did not start: {line!r}"
        yield nodes
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.kill()
            for stream in (node.process.stdin, node.process.stdout):
                if stream is not None:
                    stream.close()


def go(nodes: list[NodeProcess]) -> None:
    for node in nodes:
        assert node.process.stdin is not None
        node.process.stdin.write("go\n")
        node.process.stdin.flush()


def wait_done(nodes: list[NodeProcess], timeout: float) -> None:
    for node in nodes:
        if node.process.returncode is not None:
            continue  # killed by the test
        assert node.process.wait(timeout) == 0, f"{node.name} failed"
