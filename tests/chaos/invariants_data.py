"""The invariants on what the jobs wrote (analytics, café-host messages), on the caches after
the repair run, and on the nodes themselves (health, memory, file descriptors)."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg
import redis

from tests.chaos.faults import Fault
from tests.chaos.monitor import Sample
from tests.chaos.verdict import SLACK, Verdict

Conn = psycopg.Connection[dict[str, Any]]
FIELDS = (
    "total_users",
    "active_users",
    "total_pokes",
    "total_messages",
    "average_session_duration",
    "peak_concurrent_users",
)
HOST_INTERVAL_S = 600.0  # proactive.min_interval: the default, ten minutes
MAX_CALLS_PER_MESSAGE = 2  # proactive.max_retries = 1: one call and one retry at most


def analytics(conn: Conn) -> Verdict:
    verdict = Verdict("analytics rows equal a recomputation from the raw tables")
    expected = conn.execute((Path(__file__).parent / "recompute.sql").read_text()).fetchall()
    stored = {r["id"]: r for r in conn.execute("SELECT * FROM analytics").fetchall()}
    for want in expected:
        verdict.checked += 1
        got = stored[want["id"]]
        wrong = [
            f"{key} {got[key]} != {want[key]}"
            for key in FIELDS
            if abs(float(got[key]) - float(want[key])) > 1e-6 * max(1.0, abs(float(want[key])))
        ]
        if wrong:
            verdict.fail(f"café {str(want['cafe_id'])[:8]} {want['date']} {want['hour']}h: {wrong}")
    return verdict


def cafe_host(conn: Conn, published: list[dict[str, Any]], requests: int) -> Verdict:
    """At most one message per café per 10 minutes (by when it was really announced, and by
    its recorded time), none announced twice, and no storm of Claude calls."""
    verdict = Verdict("café host: one message per café per 10 min, none posted twice")
    rows = conn.execute(
        "SELECT cafe_id, content, created_at FROM agent_messages ORDER BY cafe_id, created_at"
    ).fetchall()
    for before, after in itertools.pairwise(rows):
        verdict.checked += 1
        gap = (after["created_at"] - before["created_at"]).total_seconds()
        if before["cafe_id"] == after["cafe_id"] and gap < HOST_INTERVAL_S:
            verdict.fail(f"café {str(after['cafe_id'])[:8]}: two messages {gap:.0f}s apart")
    seen = Counter((m["cafeId"], m["message"], m["timestamp"]) for m in published)
    for (cafe, _, stamp), count in seen.items():
        if count > 1:
            verdict.fail(f"café {cafe[:8]}: the message of {stamp} published {count} times")
    by_cafe: dict[str, list[float]] = defaultdict(list)
    for message in published:
        by_cafe[message["cafeId"]].append(message["received_at"])
    for cafe, times in by_cafe.items():
        times.sort()
        for a, b in itertools.pairwise(times):
            if b - a < HOST_INTERVAL_S - SLACK.total_seconds():
                verdict.fail(f"café {cafe[:8]}: announced twice {b - a:.0f}s apart (real time)")
    if requests > MAX_CALLS_PER_MESSAGE * max(1, len(rows)):
        verdict.fail(f"{requests} Claude API requests for {len(rows)} messages")
    return verdict


def caches(conn: Conn, cache: redis.Redis, faults: list[Fault]) -> Verdict:
    """After the repair run: each café's active_user_count equals the database's count, and no
    user expired while Redis was reachable keeps `user:{id}` or its place in active_users."""
    verdict = Verdict("caches agree with the database after the repair run")
    counts = conn.execute(
        "SELECT c.id, count(u.id) FILTER (WHERE u.is_active) AS n FROM cafes c"
        " LEFT JOIN users u ON u.cafe_id = c.id GROUP BY c.id"
    ).fetchall()
    for row in counts:
        verdict.checked += 1
        cached = cache.get(f"cafe:{row['id']}:active_user_count")
        if cached is None or int(cached) != row["n"]:
            verdict.fail(f"café {str(row['id'])[:8]}: active_user_count {cached!r} != {row['n']}")
    redis_faults = [f for f in faults if "redis" in f.kind]
    expired = conn.execute(
        "SELECT id, cafe_id, updated_at FROM users WHERE NOT is_active"
    ).fetchall()
    for user in expired:
        if any(
            f.started - SLACK <= user["updated_at"] <= (f.healed or f.started) + SLACK
            for f in redis_faults
        ):
            continue  # documented: keys of users expired during an outage live until their TTL
        verdict.checked += 1
        if cache.exists(f"user:{user['id']}"):
            verdict.fail(f"user {user['id']} expired at {user['updated_at']:%H:%M:%S} still cached")
        if cache.sismember(f"cafe:{user['cafe_id']}:active_users", str(user["id"])):
            verdict.fail(f"user {user['id']} expired but still in its café's active_users")
    for key in cache.scan_iter("user:*:badges"):
        verdict.checked += 1
        user = key.decode().split(":")[1]
        rows = conn.execute(
            "SELECT type FROM badges WHERE user_id = %s AND is_active ORDER BY type", (user,)
        ).fetchall()
        if json.loads(cache.get(key) or "null") != [r["type"] for r in rows]:
            verdict.fail(f"user {user}: cached badges differ from the database's")
    return verdict


def nodes_healthy(health: dict[str, Any]) -> Verdict:
    verdict = Verdict("every node alive and healthy at the end")
    for node, answer in health.items():
        verdict.checked += 1
        if answer != "healthy":
            verdict.fail(f"{node}: {answer}")
    return verdict


def resources(samples: list[Sample]) -> Verdict:
    """No unbounded growth: over each process's life after its first third (imports, the
    first runs, the Claude SDK loaded), its RSS and open descriptors level off."""
    verdict = Verdict("no growth of memory (RSS) or file descriptors")
    by_pid: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_pid[sample.pid].append(sample)
    for pid, mine in by_pid.items():
        if len(mine) < 9:
            continue  # too short a life to judge
        verdict.checked += 1
        third = len(mine) // 3
        settled, last = mine[third : 2 * third], mine[2 * third :]
        rss0, rss1 = max(s.rss_kb for s in settled), max(s.rss_kb for s in last)
        fd0, fd1 = max(s.fds for s in settled), max(s.fds for s in last)
        name = f"{mine[0].node} pid {pid}"
        if rss1 > rss0 * 1.25 + 10_000:
            verdict.fail(f"{name}: RSS {rss0 // 1024} MB -> {rss1 // 1024} MB")
        if fd1 > fd0 + 10:
            verdict.fail(f"{name}: {fd0} -> {fd1} open file descriptors")
    return verdict


def growth_figures(samples: list[Sample]) -> list[str]:
    """Per process: first and last RSS and descriptor counts, for the report."""
    by_pid: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_pid[sample.pid].append(sample)
    return [
        f"{s[0].node} pid {pid}: RSS {s[0].rss_kb // 1024}->{s[-1].rss_kb // 1024} MB,"
        f" fds {s[0].fds}->{s[-1].fds} ({len(s)} samples)"
        for pid, s in by_pid.items()
    ]
