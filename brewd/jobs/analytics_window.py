"""aggregateAnalytics' pure decisions: which closed UTC hours to compute, and in what pieces."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

HOUR = timedelta(hours=1)
# Hours recomputed on every run even without downtime: late writes to the last hours land.
RECENT_HOURS = 3
# Hours computed by one statement at most (a backfill after downtime is split into days).
CHUNK_HOURS = 24


def window(now: datetime, newest: datetime | None, max_hours: int) -> tuple[datetime, datetime]:
    """The closed hours [start, end) to compute: the last RECENT_HOURS, extended back to the
    newest hour already stored (after downtime), never more than max_hours in all."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - RECENT_HOURS * HOUR
    if newest is not None and newest < start:
        start = newest.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return max(start, end - max(1, max_hours) * HOUR), end


def chunks(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Split [start, end) into spans of at most CHUNK_HOURS whole hours, oldest first: one
    compute statement each, so a long backfill after downtime is read (and committed) a day
    at a time instead of in one statement over three days of activity."""
    while start < end:
        stop = min(end, start + CHUNK_HOURS * HOUR)
        yield start, stop
        start = stop


def batch_starts(rows: int, batch_size: int) -> range:
    """The `after` of each upsert batch over rows numbered 1..rows: 0, size, 2 * size, ..."""
    return range(0, max(0, rows), max(1, batch_size))


# Column -> the key the API servers read in the cached JSON (SPEC §4).
CACHE_FIELDS: Mapping[str, str] = {
    "total_users": "totalUsers",
    "active_users": "activeUsers",
    "total_pokes": "totalPokes",
    "total_messages": "totalMessages",
    "average_session_duration": "averageSessionDuration",
    "peak_concurrent_users": "peakConcurrentUsers",
}


def cache_json(row: Mapping[str, Any]) -> str:
    """The cached form of one analytics row."""
    return json.dumps({key: row[column] for column, key in CACHE_FIELDS.items()})


def hour_key(hour: datetime) -> str:
    """The hour's start as the cache key wants it: YYYY-MM-DDTHH, UTC."""
    return hour.astimezone(UTC).strftime("%Y-%m-%dT%H")
