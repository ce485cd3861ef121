"""proactiveMessages, the database side: eligible cafés, rate limits under a lock, the record."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg.types.json import Jsonb

from brewd.adapters.pg import Connection
from brewd.jobs.base import load_sql
from brewd.jobs.proactive.rules import CafeActivity

RECENT = timedelta(minutes=30)  # the spec's window for recent pokes and messages

CAFES_SQL = load_sql("proactive_cafes")
LIMITS_SQL = load_sql("proactive_limits")
LOCK_SQL = load_sql("proactive_lock")
INSERT_SQL = load_sql("proactive_insert")


@dataclass(frozen=True)
class Cafe:
    """An eligible café, its zone and its aggregates at the run's `now`."""

    id: UUID
    name: str
    zone: ZoneInfo
    activity: CafeActivity


@dataclass(frozen=True)
class Limits:
    """The rate limits: one message per `min_interval`, `daily` per local day, per café."""

    min_interval: timedelta
    daily: int


def load_cafes(conn: Connection, now: datetime) -> tuple[list[Cafe], dict[str, int]]:
    """Eligible cafés with their aggregates, and the invalid zone names met (name: cafés)."""
    cafes: list[Cafe] = []
    bad_zones: dict[str, int] = {}
    for row in conn.execute(CAFES_SQL, {"now": now, "since": now - RECENT}):
        zone = _zone(row["timezone"])
        if zone is None:
            bad_zones[row["timezone"]] = bad_zones.get(row["timezone"], 0) + 1
            continue
        activity = CafeActivity(
            active_users=row["active_users"],
            recent_pokes=row["recent_pokes"],
            recent_messages=row["recent_messages"],
            local_hour=now.astimezone(zone).hour,
        )
        cafes.append(Cafe(id=row["id"], name=row["name"], zone=zone, activity=activity))
    return cafes, bad_zones


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a malformed key such as "../x"
        return None


def local_day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The instant the café's local calendar day began. A midnight skipped by DST maps (fold=0,
    the offset before the change) to the transition instant itself, which is when the day began."""
    return datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)


def limit_reasons(
    conn: Connection, cafes: Iterable[Cafe], now: datetime, limits: Limits
) -> dict[UUID, str]:
    """The cafés a rate limit holds back right now, with the limit's name."""
    cafes = list(cafes)
    if not cafes:
        return {}
    params = {
        "cafe_ids": [c.id for c in cafes],
        "day_starts": [local_day_start(now, c.zone) for c in cafes],
        "since": now - limits.min_interval,
    }
    reasons: dict[UUID, str] = {}
    for row in conn.execute(LIMITS_SQL, params):
        reason = _limit_reason(row, now, limits)
        if reason:
            reasons[row["cafe_id"]] = reason
    return reasons


def _limit_reason(row: dict[str, Any], now: datetime, limits: Limits) -> str | None:
    if row["today"] >= limits.daily:
        return "daily limit"
    if row["last_at"] is not None and now - row["last_at"] < limits.min_interval:
        return "rate-limited"
    return None


def record(
    conn: Connection,
    cafe: Cafe,
    content: str,
    context_data: dict[str, Any],
    now: datetime,
    limits: Limits,
) -> str | None:
    """Inside the caller's transaction: take the café's lock, re-check the limits (another node
    may have posted since the plan), insert. Returns the limit that held it back, or None."""
    conn.execute(LOCK_SQL, {"cafe_id": cafe.id})
    reason = limit_reasons(conn, [cafe], now, limits).get(cafe.id)
    if reason is None:
        conn.execute(
            INSERT_SQL,
            {
                "cafe_id": cafe.id,
                "content": content,
                "context_data": Jsonb(context_data),
                "created_at": now,
            },
        )
    return reason
