"""proactiveMessages on several nodes: a slot's cafés shared, each posted once, one Claude
budget and one 429 pause for all, a killed node's cafés finished by the others."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from brewd.jobs.proactive.budget import Budget
from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.helpers import wait_until
from tests.integration.jobs.proactive_nodes import (
    ThreadNodes,
    duo_cafes,
    go,
    node_processes,
    running_row,
    wait_done,
)
from tests.integration.jobs.proactive_world import dead_redis

SLOT = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)  # 15:00 UTC: every café's trigger is "duo"


@pytest.fixture
def fake() -> Iterator[FakeClaudeAPI]:
    with FakeClaudeAPI() as api:
        yield api


def posts_per_cafe(pg) -> list[int]:
    rows = pg.execute(
        "SELECT count(a.id) AS n FROM cafes c LEFT JOIN agent_messages a ON a.cafe_id = c.id"
        " GROUP BY c.id"
    ).fetchall()
    return sorted({r["n"] for r in rows})


def work_by_node(pg) -> dict[str, int]:
    rows = pg.execute(
        "SELECT node, count(*) AS n FROM proactive_work WHERE state = 'done' GROUP BY node"
    ).fetchall()
    return {r["node"]: r["n"] for r in rows}


def slot_run(pg) -> dict[str, Any]:
    [row] = pg.execute("SELECT * FROM job_runs WHERE job = 'proactiveMessages'").fetchall()
    return row


@pytest.mark.timeout(180)
def test_four_node_processes_share_the_slot_and_post_each_cafe_once(pg, pg_dsn, redis_url, fake):
    duo_cafes(pg, 80, SLOT)
    fake.default = Reply(delay=0.3)
    options = {"dsn": pg_dsn, "redis": redis_url, "base_url": fake.base_url}
    with node_processes(4, slot=SLOT.isoformat(), concurrency=2, **options) as nodes:
        go(nodes)
        wait_done(nodes, 150)
    assert posts_per_cafe(pg) == [1]
    assert fake.calls == 80  # one call per café: no café drafted twice
    shares = work_by_node(pg)
    assert len(shares) == 4, shares
    assert sum(shares.values()) == 80, shares
    run = slot_run(pg)  # one record for the slot, counting every node's work
    assert (run["status"], run["affected_records"]) == ("succeeded", 80), run
    assert run["message"].endswith("; shared by 4 nodes"), run["message"]


@pytest.mark.timeout(180)
def test_a_node_killed_mid_slot_leaves_its_cafes_to_the_others(pg, pg_dsn, redis_url, fake):
    duo_cafes(pg, 80, SLOT)
    fake.default = Reply(delay=0.5)
    options = {"dsn": pg_dsn, "redis": redis_url, "base_url": fake.base_url}
    with node_processes(4, slot=SLOT.isoformat(), concurrency=2, **options) as nodes:
        go(nodes)
        claimer = wait_until(lambda: running_node(pg), 60, "the claim")
        victim = next(n for n in nodes if n.name != claimer)
        wait_until(lambda: in_flight(pg, fake, victim.name), 60, "the victim with calls in flight")
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        wait_done(nodes, 150)
    assert posts_per_cafe(pg) == [1]  # none lost, none doubled
    shares = work_by_node(pg)
    assert sum(shares.values()) == 80, shares
    assert shares[victim.name] < 80, shares
    # The victim's cafés in flight (a call made, no commit) were drafted again by the others.
    assert fake.calls > 80, (shares, fake.calls)
    run = slot_run(pg)
    assert (run["status"], run["affected_records"]) == ("succeeded", 80), run


def in_flight(pg, fake: FakeClaudeAPI, node: str) -> bool:
    """The node has done two cafés and has calls out now. Calls are read before the cafés
    done, which only grow: more calls than cafés means one is still out."""
    calls = sum(1 for h in list(fake.headers) if h.get("x-test-node") == node)
    done = work_by_node(pg).get(node, 0)
    return done >= 2 and calls > done


def running_node(pg) -> str | None:
    """The claimer (a node that found the lock taken may have written a 'skipped' row first,
    which the claimer's claim then takes over)."""
    row = pg.execute(
        "SELECT node FROM job_runs WHERE job = 'proactiveMessages' AND status = 'running'"
    ).fetchone()
    return row["node"] if row else None


def test_the_budget_holds_across_nodes_and_the_rest_get_templates(pg, pg_dsn, cache, fake):
    duo_cafes(pg, 30, SLOT)
    fake.default = Reply(delay=0.05)
    settings = {"requests_per_minute": 20, "concurrency": 2}
    nodes = ThreadNodes(
        pg_dsn, cache, fake.base_url, SLOT, running_row(pg, SLOT), settings, schedule="* * * * *"
    )
    result = nodes.run(4)
    assert fake.calls == 20
    assert fake.busiest_window(60) == 20
    assert posts_per_cafe(pg) == [1]
    assert "20 from Claude, 10 from templates: 10 over budget" in result.message, result.message
    assert result.affected_records == 30


def test_over_budget_defer_leaves_the_cafes_for_the_next_slot(pg, pg_dsn, cache, fake):
    duo_cafes(pg, 30, SLOT)
    settings = {"requests_per_minute": 20, "concurrency": 2, "over_budget": "defer"}
    nodes = ThreadNodes(
        pg_dsn, cache, fake.base_url, SLOT, running_row(pg, SLOT), settings, schedule="* * * * *"
    )
    result = nodes.run(4)
    assert fake.calls == 20
    assert result.affected_records == 20
    assert "; 10 over budget, left for the next slot" in result.message, result.message
    assert posts_per_cafe(pg) == [0, 1]
    deferred = pg.execute(
        "SELECT count(*) AS n FROM proactive_work WHERE outcome = 'deferred'"
    ).fetchone()
    assert deferred["n"] == 10


def test_a_429_with_retry_after_pauses_every_node(pg, pg_dsn, cache, fake):
    duo_cafes(pg, 40, SLOT)
    fake.default = Reply(delay=0.1)
    fake.then(Reply(status=429, retry_after="3"))
    nodes = ThreadNodes(
        pg_dsn, cache, fake.base_url, SLOT, running_row(pg, SLOT), {"concurrency": 2}
    )
    result = nodes.run(4)
    limited = fake.arrivals[fake.statuses.index(429)]
    # Calls already on their way when the 429 came may land just after it; then nobody
    # calls until retry-after has passed, on any node.
    quiet = [t for t in fake.arrivals if limited + 1.0 <= t <= limited + 2.8]
    assert quiet == []
    assert max(fake.arrivals) > limited + 2.8  # the work went on after the pause
    assert result.affected_records == 40
    assert "40 from Claude" in result.message  # the 429'd café was retried after the pause
    assert posts_per_cafe(pg) == [1]


def test_with_redis_down_each_node_keeps_a_conservative_share():
    budget = Budget(dead_redis(), per_minute=60, share=4)
    assert [budget.wait_ms() for _ in range(15)] == [0] * 15
    assert budget.wait_ms() > 0  # the 16th request of the minute waits: 60 / 4 nodes
    budget.pause(5)
    assert budget.wait_ms() > 4000
