"""The chaos run: `python -m tests.chaos.run --minutes 30 --seed N`.

Starts its own PostgreSQL and Redis, three brewd nodes behind proxies, the fake Claude API
and a writer; injects a seeded fault every 20-40 s; heals everything, runs every job once
more (the repair run) and checks the invariants. Exit status 1 when one is violated."""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from brewd.cli.client import DaemonUnreachable
from tests.chaos import invariants, invariants_data, report
from tests.chaos.cluster import JOBS, Cluster
from tests.chaos.faults import Injector, now
from tests.chaos.monitor import Monitor
from tests.chaos.servers import connect
from tests.chaos.workload import Writer, seed
from tests.helpers import wait_until

SETTLE_S = 240  # after the heal: a reaped run (timeout + 60 s) and the sweep (1 min) included


def log(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {text}", flush=True)


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__)
    parser.add_argument("--minutes", type=float, default=3.0, help="how long faults are injected")
    parser.add_argument("--seed", type=int, default=None, help="replay a run (default: random)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    chosen = args.seed if args.seed is not None else random.randrange(10**6)
    log(f"seed {chosen} ({args.minutes:g} minutes); replay with --seed {chosen}")
    root = Path(tempfile.mkdtemp(prefix="brewd-chaos-"))
    os.chmod(root, 0o755)  # PostgreSQL runs as `postgres` under it
    cluster = Cluster(root)
    try:
        cluster.start()
        verdicts, injector = exercise(cluster, chosen, args.minutes)
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(report.table(chosen, args.minutes, injector.faults, verdicts), flush=True)
    if args.keep:
        log(f"logs kept in {root}")
    return 0 if all(v.held for v in verdicts) and not injector.errors else 1


def exercise(cluster: Cluster, chosen: int, minutes: float) -> tuple[list[Any], Injector]:
    cafes = seed(cluster.pg.dsn, minutes)
    for node in cluster.nodes:
        node.daemon.wait_answering(60)
    start = now()
    writer = Writer(cluster.pg.dsn, cluster.redis.url, cafes, chosen)
    monitor = Monitor(cluster)
    injector = Injector(cluster, chosen, minutes, log)
    for thread in (writer, monitor, injector):
        thread.start()
    injector.join(minutes * 60 + 600)
    healed = now()
    writer.stop()
    log(f"faults healed; writer stopped ({writer.done}, {writer.errors} errors)")
    with connect(cluster.pg.dsn) as conn:
        settle(cluster, conn, start, healed)
        cut = repair(cluster, conn)
        health = final_health(cluster)
        monitor.stop()
        verdicts = [
            invariants.slots(conn, injector.faults, start, healed),
            invariants.no_overlap(conn),
            invariants.expiry(conn, injector.faults, start, cut),
            invariants.single_active_badge(conn),
            invariants.sessions_closed(conn),
            invariants_data.analytics(conn),
            invariants_data.cafe_host(conn, monitor.published, cluster.claude.calls),
            invariants_data.caches(conn, redis_client(cluster), injector.faults),
            invariants_data.nodes_healthy(health),
            invariants_data.resources(monitor.samples),
        ]
    for line in invariants_data.growth_figures(monitor.samples):
        log(line)
    return verdicts, injector


def settle(cluster: Cluster, conn: Any, start: datetime, healed: datetime) -> None:
    """Wait until every node answers and every slot up to the heal has a finished record."""
    for node in cluster.nodes:
        node.daemon.wait_answering(120)
    recovered = time.monotonic()
    health = final_health(cluster)
    log(f"nodes after the heal: {health} in {time.monotonic() - recovered:.1f}s")
    last = invariants.minute_slots(start, healed)[-1]

    def settled() -> bool:
        rows = conn.execute(
            "SELECT count(*) FILTER (WHERE status = 'running') AS running,"
            " count(DISTINCT job) FILTER (WHERE slot >= %s) AS jobs FROM job_runs",
            (last,),
        ).fetchone()
        return bool(rows["running"] == 0 and rows["jobs"] == len(JOBS))

    try:
        wait_until(settled, SETTLE_S, "every slot up to the heal recorded and finished")
    except AssertionError as exc:
        log(f"not settled: {exc}")  # the slot invariant then says which


def repair(cluster: Cluster, conn: Any) -> datetime:
    """Every job once more, with every fault healed; one expired user per café first, so that
    every café's cached count is recomputed. Returns the time the repair began."""
    conn.execute(
        "INSERT INTO users (username, cafe_id, expires_at)"
        " SELECT 'canary', id, now() - interval '1 second' FROM cafes"
    )
    cut = now()
    node = cluster.nodes[0].daemon
    for job in JOBS:
        answer = wait_until(functools.partial(_trigger, node, job), 120, f"the repair run of {job}")
        assert answer is not None  # wait_until returns the first truthy answer
        log(f"repair {job}: {answer['status']} {answer.get('message') or answer.get('error')}")
    return cut


def _trigger(daemon: Any, job: str) -> dict[str, Any] | None:
    try:
        reply = daemon.trigger(job)
    except DaemonUnreachable:
        return None
    if reply.status == 409 or "status" not in reply.body:
        # A scheduled run of it is under way, or the node cannot reach the database yet
        # (503 {"error"}): try again.
        log(f"repair {job}: {reply.status} {reply.body}")
        threading.Event().wait(1.0)  # a pause between tries, not a wait for a condition
        return None
    body: dict[str, Any] = reply.body
    return body


def _healthy(daemon: Any) -> bool:
    return bool(daemon.health().body["status"] == "healthy")


def final_health(cluster: Cluster) -> dict[str, str]:
    found = {}
    for node in cluster.nodes:
        if node.daemon.exited():
            found[node.name] = f"exited with {node.daemon.process.returncode}"  # type: ignore[union-attr]
            continue
        try:
            wait_until(functools.partial(_healthy, node.daemon), 90, "health")
            found[node.name] = "healthy"
        except (AssertionError, DaemonUnreachable):
            found[node.name] = str(node.daemon.health().body.get("status"))
    return found


def redis_client(cluster: Cluster) -> redis.Redis:
    return redis.Redis.from_url(cluster.redis.url, socket_timeout=5)


if __name__ == "__main__":
    sys.exit(main())
