"""proactiveMessages, the shared round: the work table every node takes cafés from.

The node that claims the slot opens a round and writes one row per café it plans to post to.
Every node then takes rows with FOR UPDATE SKIP LOCKED, one café per transaction, and marks the
row done in the same transaction as the café's agent_messages insert: a café is done exactly
once, and the row lock of a node that dies goes with its connection, so another node takes the
café within the slot. A frozen node loses its rows when PostgreSQL ends its idle transaction
(idle_in_transaction_session_timeout, the lease).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg

from brewd.adapters.pg import Connection
from brewd.jobs.proactive.draft import Plan
from brewd.jobs.proactive.rules import CafeActivity, time_band
from brewd.jobs.proactive.store import Cafe

OPEN_ROUND_SQL = """
INSERT INTO proactive_rounds (run_id, slot, now, node, closes_at)
VALUES (%(run_id)s, (SELECT slot FROM job_runs WHERE id = %(run_id)s), %(now)s, %(node)s,
        clock_timestamp() + make_interval(secs => %(window_s)s))
RETURNING id
"""
FILL_SQL = """
INSERT INTO proactive_work (round_id, cafe_id, name, timezone, trigger, active_users,
                            recent_pokes, recent_messages, local_hour)
SELECT %(round_id)s, t.*
  FROM unnest(%(ids)s::uuid[], %(names)s::text[], %(zones)s::text[], %(triggers)s::text[],
              %(active)s::int[], %(pokes)s::int[], %(messages)s::int[], %(hours)s::int[]) AS t
"""
# Rounds (and their rows) are evidence for a day, then pruned.
PRUNE_SQL = "DELETE FROM proactive_rounds WHERE opened_at < now() - interval '1 day'"
# The next open café of an open round; `remaining_s` is what is left of the round's window.
CLAIM_SQL = """
SELECT w.*, extract(epoch FROM r.closes_at - clock_timestamp())::float8 AS remaining_s
  FROM proactive_work w
  JOIN proactive_rounds r ON r.id = w.round_id
 WHERE w.round_id = %(round_id)s AND w.state = 'open'
   AND r.state = 'open' AND r.closes_at > clock_timestamp()
 LIMIT 1
   FOR UPDATE OF w SKIP LOCKED
"""
# Cafés of the round still open: held by a node at work, or given up by one that died.
OPEN_LEFT_SQL = """
SELECT count(*) AS n FROM proactive_work w JOIN proactive_rounds r ON r.id = w.round_id
 WHERE w.round_id = %(round_id)s AND w.state = 'open'
   AND r.state = 'open' AND r.closes_at > clock_timestamp()
"""
FINISH_SQL = """
UPDATE proactive_work SET state = 'done', outcome = %(outcome)s, fallback = %(fallback)s,
       node = %(node)s, done_at = clock_timestamp()
 WHERE round_id = %(round_id)s AND cafe_id = %(cafe_id)s
"""
UNANNOUNCED_SQL = (
    "UPDATE proactive_work SET announced = false WHERE round_id = %(round_id)s"
    " AND cafe_id = %(cafe_id)s"
)
FIND_OPEN_SQL = """
SELECT id, now FROM proactive_rounds
 WHERE state = 'open' AND closes_at > clock_timestamp()
 ORDER BY id DESC LIMIT 1
"""
# Closing waits for the cafés still being written (their row locks), then marks what nobody
# reached; the UPDATE's own lock wait is the barrier.
CLOSE_SQL = "UPDATE proactive_rounds SET state = 'closed' WHERE id = %(round_id)s"
UNREACHED_SQL = (
    "UPDATE proactive_work SET state = 'unreached' WHERE round_id = %(round_id)s AND state = 'open'"
)
TALLY_SQL = """
SELECT state, outcome, fallback, announced, count(*) AS n
  FROM proactive_work WHERE round_id = %(round_id)s
 GROUP BY state, outcome, fallback, announced
"""
NODES_SQL = """
SELECT count(DISTINCT node) AS n FROM proactive_work
 WHERE round_id = %(round_id)s AND node IS NOT NULL
"""


@dataclass(frozen=True)
class Round:
    """An open round: its id and the reference time every node judges its cafés at."""

    id: int
    now: datetime


def open_round(
    conn: Connection,
    *,
    run_id: int | None,
    now: datetime,
    node: str,
    window_s: float,
    plans: list[Plan],
) -> Round:
    """Inside the caller's transaction: the round and one open row per planned café."""
    conn.execute(PRUNE_SQL)
    row = conn.execute(
        OPEN_ROUND_SQL, {"run_id": run_id, "now": now, "node": node, "window_s": window_s}
    ).fetchone()
    assert row is not None
    cafes = [p.cafe for p in plans]
    conn.execute(
        FILL_SQL,
        {
            "round_id": row["id"],
            "ids": [c.id for c in cafes],
            "names": [c.name for c in cafes],
            "zones": [c.zone.key for c in cafes],
            "triggers": [p.trigger for p in plans],
            "active": [c.activity.active_users for c in cafes],
            "pokes": [c.activity.recent_pokes for c in cafes],
            "messages": [c.activity.recent_messages for c in cafes],
            "hours": [c.activity.local_hour for c in cafes],
        },
    )
    return Round(row["id"], now)


def claim(conn: Connection, round_id: int) -> dict[str, Any] | None:
    """Lock the next open café of the round that no other node holds, or None."""
    return conn.execute(CLAIM_SQL, {"round_id": round_id}).fetchone()


def open_left(conn: Connection, round_id: int) -> int:
    """How many cafés of the open round are not done yet (held by others, or free again)."""
    row = conn.execute(OPEN_LEFT_SQL, {"round_id": round_id}).fetchone()
    return int(row["n"]) if row else 0


def plan_of(row: dict[str, Any], now: datetime) -> Plan:
    """The plan the claiming node wrote, as this node's draft needs it."""
    activity = CafeActivity(
        active_users=row["active_users"],
        recent_pokes=row["recent_pokes"],
        recent_messages=row["recent_messages"],
        local_hour=row["local_hour"],
    )
    cafe = Cafe(
        id=row["cafe_id"], name=row["name"], zone=ZoneInfo(row["timezone"]), activity=activity
    )
    band = time_band(activity.local_hour)
    return Plan(cafe, row["trigger"], band, seed=f"{cafe.id}:{now.isoformat()}")


def finish(
    conn: Connection,
    round_id: int,
    cafe_id: UUID,
    *,
    outcome: str,
    fallback: str | None,
    node: str,
) -> None:
    conn.execute(
        FINISH_SQL,
        {
            "round_id": round_id,
            "cafe_id": cafe_id,
            "outcome": outcome,
            "fallback": fallback,
            "node": node,
        },
    )


def unannounced(conn: Connection, round_id: int, cafe_id: UUID) -> None:
    conn.execute(UNANNOUNCED_SQL, {"round_id": round_id, "cafe_id": cafe_id})


def find_open(conn: Connection) -> Round | None:
    row = conn.execute(FIND_OPEN_SQL).fetchone()
    return Round(row["id"], row["now"]) if row else None


def close(conn: Connection, round_id: int, wait_s: float) -> None:
    """Close the round: no café is started after this; wait up to `wait_s` for the ones being
    written, then mark the rest unreached. A café still held after that (its node frozen, not
    yet past its lease) stays open and is counted unreached too: closing never fails the run."""
    with conn.transaction():
        conn.execute(CLOSE_SQL, {"round_id": round_id})
    try:
        with conn.transaction():
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (f"{int(wait_s * 1000)}ms", f"{int(wait_s * 1000) + 5000}ms"),
            )
            conn.execute(UNREACHED_SQL, {"round_id": round_id})
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        pass


def tally(conn: Connection, round_id: int) -> tuple[list[dict[str, Any]], int]:
    """Every row's fate, grouped, and how many nodes did the work."""
    rows = conn.execute(TALLY_SQL, {"round_id": round_id}).fetchall()
    nodes = conn.execute(NODES_SQL, {"round_id": round_id}).fetchone()
    return rows, int(nodes["n"]) if nodes else 0
