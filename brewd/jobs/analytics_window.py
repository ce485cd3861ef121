"""aggregateAnalytics' pure decisions: which closed UTC hours to compute, and in what batches."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HOUR = timedelta(hours=1)
# Hours recomputed on every run even without downtime: late writes to the last hours land.
RECENT_HOURS = 3


@dataclass(frozen=True)
class Batch:
    """Some cafés over some hours [start, end): one transaction of the job."""

    cafe_ids: tuple[Any, ...]
    start: datetime
    end: datetime


def window(now: datetime, newest: datetime | None, max_hours: int) -> tuple[datetime, datetime]:
    """The closed hours [start, end) to compute: the last RECENT_HOURS, extended back to the
    newest hour already stored (after downtime), never more than max_hours in all."""
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - RECENT_HOURS * HOUR
    if newest is not None and newest < start:
        start = newest.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return max(start, end - max(1, max_hours) * HOUR), end


def batches(
    start: datetime, end: datetime, cafe_ids: Sequence[Any], batch_size: int
) -> Iterator[Batch]:
    """Split cafés x hours into batches of at most batch_size rows: whole hours for every café
    while the cafés fit in one batch (each statement then reads one time range once), else
    one hour for batch_size cafés at a time."""
    hours = int((end - start) / HOUR)
    if not cafe_ids or hours <= 0:
        return
    size = max(1, batch_size)
    per_batch_cafes = min(len(cafe_ids), size)
    per_batch_hours = max(1, size // per_batch_cafes)
    for first in range(0, hours, per_batch_hours):
        last = min(hours, first + per_batch_hours)
        for offset in range(0, len(cafe_ids), per_batch_cafes):
            yield Batch(
                tuple(cafe_ids[offset : offset + per_batch_cafes]),
                start + first * HOUR,
                start + last * HOUR,
            )


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
