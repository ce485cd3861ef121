"""Watching the cluster while it runs: each node's RSS and open file descriptors, and every
café-host message published on Redis (to prove none is announced twice)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from tests.chaos.cluster import Cluster


@dataclass
class Sample:
    node: str
    pid: int
    rss_kb: int
    fds: int


def sample(pid: int) -> tuple[int, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]), fds
    return None


@dataclass(eq=False)  # a thread: hashed by identity
class Monitor(threading.Thread):
    cluster: Cluster
    every_s: float = 5.0
    samples: list[Sample] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True, name="chaos-monitor")
        self._subscriber = threading.Thread(target=self._listen, daemon=True)

    def run(self) -> None:
        self._subscriber.start()
        while not self.stopping.wait(self.every_s):
            for node in self.cluster.nodes:
                process = node.daemon.process
                if process is None or process.poll() is not None:
                    continue
                found = sample(process.pid)
                if found is not None:
                    self.samples.append(Sample(node.name, process.pid, *found))

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)

    def _listen(self) -> None:
        """PSUBSCRIBE cafe:*:messages, subscribing again after each Redis restart."""
        while not self.stopping.is_set():
            try:
                client = redis.Redis.from_url(self.cluster.redis.url, socket_timeout=2)
                pubsub = client.pubsub()
                pubsub.psubscribe("cafe:*:messages")
                while not self.stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "pmessage":
                        body = json.loads(message["data"])
                        self.published.append({**body, "received_at": time.time()})
            except (redis.RedisError, OSError, ValueError):
                self.stopping.wait(0.5)
