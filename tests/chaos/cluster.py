"""Three `brewd run` nodes on the run's own PostgreSQL and Redis, each through its own TCP
proxies (so one node's link can be cut) and under libfaketime (so its wall clock can be
stepped), with proactive messages on against the fake Claude API."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import make_conninfo

from brewd.db import migrate
from tests.chaos.servers import Postgres, RedisServer, connect
from tests.fakes.claude_api import FakeClaudeAPI
from tests.reliability.daemon import DaemonProcess, daemon_env
from tests.reliability.proxy import Proxy

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
JOBS = (
    "expireUsers",
    "expireBadges",
    "calculateBadges",
    "expirePokes",
    "aggregateAnalytics",
    "proactiveMessages",
)
# Works around a libfaketime bug that breaks time.sleep (see its docstring).
SHIM = Path(__file__).parent / "faketime_shim"
JOB_TIMEOUT_S = 15
# A node stalled this long has its run reaped by the others (timeout + ledger.REAP_MARGIN_S).
FENCE_S = JOB_TIMEOUT_S + 60
# Every job every minute; short timeouts so a frozen node's run is reaped within the run;
# a short Claude timeout so a slow API costs seconds, not the job's timeout.
CONFIG = (
    '[database]\nconnect_timeout = "3s"\nbatch_size = 50\n'
    '[redis]\nsocket_timeout = "2s"\n'
    '[proactive]\ntimeout = "3s"\n'
    + "".join(
        f'[jobs.{job}]\nschedule = "* * * * *"\ntimeout = "{JOB_TIMEOUT_S}s"\n' for job in JOBS
    )
)


@dataclass
class Node:
    name: str
    daemon: DaemonProcess
    pg_proxy: Proxy
    redis_proxy: Proxy
    clock_file: Path
    restarts: int = 0
    pids: list[int] = field(default_factory=list)

    def start(self) -> None:
        self.daemon.start(wait=False)
        self.pids.append(self.daemon.pid)

    def restart(self) -> None:
        self.restarts += 1
        self.start()

    def kill(self) -> None:
        self.daemon.signal(signal.SIGKILL)
        assert self.daemon.process is not None
        self.daemon.process.wait(10)

    def set_clock(self, offset_s: int) -> None:
        # libfaketime re-reads this file on every call (FAKETIME_NO_CACHE): relative seconds.
        self.clock_file.write_text(f"{offset_s:+d}\n")


class Cluster:
    def __init__(self, root: Path, nodes: int = 3) -> None:
        self.root = root
        self.pg = Postgres(root)
        self.redis = RedisServer(root)
        self.claude = FakeClaudeAPI()
        self.nodes: list[Node] = []
        self.count = nodes

    def start(self) -> Cluster:
        self.pg.start()
        self.redis.start()
        self.claude.start()
        with connect(self.pg.dsn) as conn:
            migrate.apply(conn)
        for index in range(self.count):
            self.nodes.append(self._node(f"n{index + 1}"))
        return self

    def _node(self, name: str) -> Node:
        pg_proxy = Proxy("127.0.0.1", self.pg.port).start()
        redis_proxy = Proxy("127.0.0.1", self.redis.port).start()
        clock = self.root / f"{name}.faketime"
        clock.write_text("+0\n")
        env = daemon_env(
            DATABASE_URL=make_conninfo(self.pg.dsn, port=str(pg_proxy.port)),
            REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0",
            ENABLE_PROACTIVE_MESSAGES="true",
            ANTHROPIC_API_KEY="sk-ant-chaos-not-a-secret",
            ANTHROPIC_BASE_URL=self.claude.base_url,
            LOG_LEVEL="info",
        )
        preload = {}
        if os.path.exists(LIBFAKETIME):
            preload = {
                "LD_PRELOAD": LIBFAKETIME,
                "FAKETIME_TIMESTAMP_FILE": str(clock),
                "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                "PYTHONPATH": f"{SHIM}:{os.environ.get('PYTHONPATH', '')}".rstrip(":"),
            }
        daemon = DaemonProcess(self.root, CONFIG, env, preload)
        node = Node(name, daemon, pg_proxy, redis_proxy, clock)
        node.start()
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.daemon.cleanup()
            node.pg_proxy.stop()
            node.redis_proxy.stop()
        self.claude.stop()
        self.redis.stop()
        self.pg.stop()
