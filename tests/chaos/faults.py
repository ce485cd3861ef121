"""The faults: one every 20-40 s, chosen by a seeded generator, each healed after its own
pause; faults overlap (a node may be frozen while PostgreSQL restarts), never two on one target."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tests.chaos.cluster import FENCE_S, Cluster, Node
from tests.fakes.claude_api import Reply

KINDS = (
    "node_kill",
    "node_stop",
    "pg_restart_fast",
    "pg_restart_immediate",
    "redis_restart_empty",
    "db_link_cut",
    "redis_link_cut",
    "clock_step",
    "claude_slow",
    "claude_fail",
)


@dataclass
class Fault:
    kind: str
    target: str
    detail: str
    started: datetime
    healed: datetime | None = None


def now() -> datetime:
    return datetime.now(UTC)


class Injector(threading.Thread):
    def __init__(self, cluster: Cluster, seed: int, minutes: float, log: Callable[[str], None]):
        super().__init__(daemon=True, name="chaos-faults")
        self.cluster, self.log = cluster, log
        self.rng = random.Random(seed)
        self.until = time.monotonic() + minutes * 60
        self.faults: list[Fault] = []
        self.errors: list[str] = []
        self._heals: list[tuple[float, Fault, Callable[[], object]]] = []
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._deck: list[str] = []

    def _draw(self) -> str:
        """The next kind from a shuffled deck of all kinds: every kind comes once in each
        round of ten, so even a short run mixes them instead of repeating one."""
        if not self._deck:
            self._deck = list(KINDS)
            self.rng.shuffle(self._deck)
        return self._deck.pop()

    def run(self) -> None:
        next_fault = time.monotonic() + self.rng.uniform(20, 40)
        while time.monotonic() < self.until:
            self._heal_due(time.monotonic())
            if time.monotonic() >= next_fault:
                self._inject()
                next_fault = time.monotonic() + self.rng.uniform(20, 40)
            upcoming = [at for at, _, _ in self._heals] + [next_fault, self.until]
            self._wake.wait(max(0.05, min(upcoming) - time.monotonic()))
        while self._heals:  # no new fault; the last ones last their full length
            self._heal_due(time.monotonic())
            if self._heals:
                self._wake.wait(max(0.05, min(at for at, _, _ in self._heals) - time.monotonic()))

    def heal_all(self) -> None:
        self._heal_due(float("inf"))

    def _heal_due(self, mono: float) -> None:
        with self._lock:
            due = [h for h in self._heals if h[0] <= mono]
            self._heals = [h for h in self._heals if h[0] > mono]
        for _, fault, heal in sorted(due, key=lambda h: h[0]):
            self._guard(fault, heal)
            fault.healed = now()
            self._busy.discard(fault.target)
            self.log(f"healed   {fault.kind:<22} {fault.target}")

    def _inject(self) -> None:
        kind = self._draw()
        nodes = [n for n in self.cluster.nodes if n.name not in self._busy]
        node = self.rng.choice(self.cluster.nodes)
        if kind.startswith(("node_", "db_link", "redis_link", "clock")):
            if not nodes:
                return
            node = self.rng.choice(nodes)
        apply, heal, pause, target, detail = self._plan(kind, node)
        if target in self._busy:
            return
        fault = Fault(kind, target, detail, now())
        self.faults.append(fault)
        self._busy.add(target)
        self.log(f"injected {kind:<22} {target} {detail}")
        self._guard(fault, apply)
        with self._lock:
            self._heals.append((time.monotonic() + pause, fault, heal))

    def _plan(
        self, kind: str, node: Node
    ) -> tuple[Callable[[], object], Callable[[], object], float, str, str]:
        """(apply, heal, seconds until the heal, target, detail) of one fault."""
        c, rng = self.cluster, self.rng
        nothing: Callable[[], None] = lambda: None  # noqa: E731
        if kind == "node_kill":
            return node.kill, node.restart, rng.uniform(3, 12), node.name, ""
        if kind == "node_stop":
            pause = FENCE_S + rng.uniform(5, 15)
            stop = lambda: node.daemon.signal(signal.SIGSTOP)  # noqa: E731
            cont = lambda: node.daemon.signal(signal.SIGCONT)  # noqa: E731
            return stop, cont, pause, node.name, f"{pause:.0f}s"
        if kind.startswith("pg_restart"):
            mode = kind.rsplit("_", 1)[1]
            return lambda: c.pg.restart(mode), nothing, 1.0, "postgres", mode
        if kind == "redis_restart_empty":
            return c.redis.kill, c.redis.start, rng.uniform(1, 5), "redis", ""
        if kind == "db_link_cut":
            return node.pg_proxy.cut, node.pg_proxy.restore, rng.uniform(10, 30), node.name, ""
        if kind == "redis_link_cut":
            proxy = node.redis_proxy
            return proxy.cut, proxy.restore, rng.uniform(10, 30), node.name, ""
        if kind == "clock_step":
            step = rng.choice((-120, -45, 45, 90))
            return (
                lambda: node.set_clock(step),
                lambda: node.set_clock(0),
                rng.uniform(30, 60),
                node.name,
                f"{step:+d}s",
            )
        reply = Reply(delay=8.0) if kind == "claude_slow" else Reply(status=500)

        def program() -> None:
            c.claude.default = reply

        def normal() -> None:
            c.claude.default = Reply()

        return program, normal, rng.uniform(30, 60), "claude", ""

    def _guard(self, fault: Fault, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as exc:  # a harness failure is reported, never silently dropped
            self.errors.append(f"{fault.kind} {fault.target}: {exc!r}")
            self.log(f"ERROR    {fault.kind} {fault.target}: {exc!r}")
