"""proactiveMessages, one node's share of a round: `concurrency` threads, each taking one café
at a time (its own pooled connection, one transaction per café), drafting through the shared
budget, recording under the café's lock, announcing after the commit."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from brewd.adapters import cache as keys
from brewd.adapters.cache_ops import announce
from brewd.adapters.pg import Connection, wrap_errors
from brewd.core.errors import CacheError
from brewd.jobs.base import JobContext
from brewd.jobs.proactive import work
from brewd.jobs.proactive.budget import Budget
from brewd.jobs.proactive.draft import OVER_BUDGET, Breaker, Draft, draft
from brewd.jobs.proactive.store import Limits, record

HEARTBEAT_S = 5.0  # while a café waits for the budget, its transaction says it is alive this often
# When every café left is held by other nodes, a worker looks again this often: a café whose
# node died is free again, and is taken by whoever looks first. (Not a blocking FOR UPDATE:
# PostgreSQL keeps the lock on each row it waited for even when the row no longer matches, so
# workers waiting that way lock each other into deadlocks.)
RECHECK_S = 0.5


def lease_s(claude_timeout: float) -> float:
    """How long a café's transaction may sit idle (a Claude call, a budget wait between
    heartbeats) before PostgreSQL ends it and the café goes back to the others: a frozen node
    holds nothing for longer than this."""
    return max(30.0, 2 * claude_timeout + 10.0)


@dataclass
class Crew:
    """What one node's workers share during a round."""

    ctx: JobContext
    round: work.Round
    budget: Budget
    limits: Limits
    breaker: Breaker
    redis_down: threading.Event = field(default_factory=threading.Event)


def take_part(ctx: JobContext, round_: work.Round, limits: Limits) -> int:
    """Work the round until no café is left (or the round closes); the cafés this node did."""
    settings = ctx.config.proactive
    budget = Budget(ctx.cache, settings.requests_per_minute, settings.budget_nodes)
    crew = Crew(ctx, round_, budget, limits, Breaker(threshold=settings.concurrency))
    with ThreadPoolExecutor(settings.concurrency, thread_name_prefix="brewd-proactive") as pool:
        futures = [pool.submit(_worker, crew) for _ in range(settings.concurrency)]
    return sum(f.result() for f in futures)


def _worker(crew: Crew) -> int:
    done = 0
    assert crew.ctx.db is not None, "proactiveMessages needs the connection pool (ctx.db)"
    recheck = threading.Event()  # never set: an interruptible wait
    while not crew.ctx.should_stop():
        with crew.ctx.db.connection() as conn:
            posted = _one(crew, conn)
            if posted is None:
                with wrap_errors():
                    left = work.open_left(conn, crew.round.id)
            elif posted.text and not _announce(crew, posted):
                with wrap_errors():
                    work.unannounced(conn, crew.round.id, posted.cafe_id)
        if posted is not None:
            done += 1
        elif left == 0:
            return done
        else:
            recheck.wait(RECHECK_S)  # with no connection held: the pool serves other jobs
    return done


@dataclass(frozen=True)
class _Posted:
    cafe_id: Any
    text: str | None  # None: nothing was posted (deferred, or held back by a limit)


def _one(crew: Crew, conn: Connection) -> _Posted | None:
    """One café in one transaction: claim, draft, record, mark done. None: no café is free."""
    lease_ms = int(lease_s(crew.ctx.config.proactive.timeout) * 1000)
    with wrap_errors(), conn.transaction():
        conn.execute(
            "SELECT set_config('idle_in_transaction_session_timeout', %s, true),"
            " set_config('lock_timeout', %s, true)",
            (f"{lease_ms}ms", f"{lease_ms}ms"),
        )
        row = work.claim(conn, crew.round.id)
        if row is None:
            return None
        plan = work.plan_of(row, crew.round.now)
        gate = BudgetGate(crew, conn, time.monotonic() + row["remaining_s"])
        result = draft(crew.ctx.claude, crew.breaker, plan, crew.ctx.log, gate)
        return _record(crew, conn, result)


def _record(crew: Crew, conn: Connection, result: Draft) -> _Posted:
    cafe, node = result.plan.cafe, crew.ctx.node
    if result.fallback == OVER_BUDGET and crew.ctx.config.proactive.over_budget == "defer":
        work.finish(conn, crew.round.id, cafe.id, outcome="deferred", fallback=None, node=node)
        _count(crew, "deferred")
        return _Posted(cafe.id, None)
    held = record(conn, cafe, result.text, _context_data(result), crew.round.now, crew.limits)
    outcome = held or result.source
    fallback = None if held else result.fallback
    work.finish(conn, crew.round.id, cafe.id, outcome=outcome, fallback=fallback, node=node)
    _count(crew, "held" if held else ("over_budget" if fallback == OVER_BUDGET else outcome))
    return _Posted(cafe.id, None if held else result.text)


def _context_data(result: Draft) -> dict[str, Any]:
    activity = result.plan.cafe.activity
    return {
        "trigger": result.plan.trigger,
        "source": result.source,
        "model": result.model,
        "activeUsers": activity.active_users,
        "recentPokes": activity.recent_pokes,
        "recentMessages": activity.recent_messages,
        "localHour": activity.local_hour,
    }


def _count(crew: Crew, outcome: str) -> None:
    if crew.ctx.metrics is not None:
        crew.ctx.metrics.proactive_cafe(outcome)


class BudgetGate:
    """The shared budget as one café's draft sees it: waits (heartbeating its transaction, so
    its lease holds) until the budget allows a call, the round's window ends or the run stops."""

    def __init__(self, crew: Crew, conn: Connection, deadline: float) -> None:
        self._crew, self._conn, self._deadline = crew, conn, deadline
        self._pause = threading.Event()  # never set: an interruptible wait

    def admit(self) -> bool:
        while not self._crew.ctx.should_stop():
            wait_ms = self._crew.budget.wait_ms()
            if wait_ms == 0:
                return True
            if time.monotonic() + wait_ms / 1000 > self._deadline:
                return False
            self.wait(wait_ms / 1000)
        return False

    def pause(self, seconds: float) -> None:
        self._crew.ctx.log.bind(event="proactive_claude_paused").warning(
            f"Claude answered 429: every node pauses its calls for {seconds:g}s"
        )
        self._crew.budget.pause(seconds)

    def wait(self, seconds: float) -> None:
        """Sleep in heartbeat-sized steps, each step proving the transaction alive."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self._crew.ctx.should_stop():
            self._pause.wait(min(left, HEARTBEAT_S))
            self._conn.execute("SELECT 1")


def _announce(crew: Crew, posted: _Posted) -> bool:
    """PUBLISH the message and stamp last_proactive_message; best-effort, after the commit.
    After the first failure Redis is taken as down for the rest of the round on this node, so
    a hung server costs one socket timeout, not one per café; the records stay either way."""
    if crew.redis_down.is_set():
        return False
    now = crew.round.now
    payload = {
        "type": "AGENT_MESSAGE",
        "cafeId": str(posted.cafe_id),
        "message": posted.text,
        "timestamp": now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        with keys.wrap_errors():
            # One round trip on a server; on a cluster PUBLISH and SET go separately (cache_ops).
            announce(
                crew.ctx.cache,
                keys.cafe_messages_channel(posted.cafe_id),
                json.dumps(payload),
                keys.cafe_last_proactive_message(posted.cafe_id),
                _epoch_ms(now),
                keys.LAST_PROACTIVE_TTL_S,
            )
    except CacheError as exc:
        crew.redis_down.set()
        crew.ctx.log.bind(event="proactive_publish_failed").warning(
            f"café {posted.cafe_id}: message recorded but not announced: {exc}"
        )
        return False
    return True


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
