"""Plan check for the benchmark: at scale, do the expiry jobs' statements use their indexes?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from brewd.jobs.base import load_sql
from brewd.jobs.batches import WALK_START
from tests.bench.bounds import Conn

BATCH = 5_000


def expectations(conn: Conn, now: datetime) -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Statement name -> (realistic parameters, indexes its plan must use)."""
    cafes = conn.execute("SELECT array_agg(id) AS ids FROM (SELECT id FROM cafes LIMIT 500) AS c")
    cafe_ids = (cafes.fetchone() or {}).get("ids") or []
    batch = {"now": now, "batch": BATCH, "after": WALK_START}
    return {
        "expire_users": (batch, ("users_live_expires_at_idx", "user_sessions_open_user_idx")),
        "expire_users_recount": ({"cafes": cafe_ids}, ("users_cafe_active_idx",)),
        "expire_badges": (batch, ("badges_live_expires_at_idx",)),
        "expire_pokes": (batch, ("pokes_live_expires_at_idx", "pokes_live_from_idx")),
        "expire_pokes_purge": (
            {"cutoff": now - timedelta(days=8), "batch": BATCH, "after": WALK_START},
            ("pokes_expired_at_idx",),
        ),
    }


def check_plans(conn: Conn, now: datetime) -> str:
    """One line: every statement uses its indexes, or which ones do not."""
    misses = []
    checks = expectations(conn, now)
    for name, (params, indexes) in checks.items():
        plan = "\n".join(
            row["QUERY PLAN"] for row in conn.execute("EXPLAIN " + load_sql(name), params)
        )
        misses += [f"{name} does not use {index}" for index in indexes if index not in plan]
    return "; ".join(misses) or f"all {len(checks)} expiry statements use their partial indexes"
