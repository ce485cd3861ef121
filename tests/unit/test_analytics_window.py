"""aggregateAnalytics' window and batches: pure decisions, tested without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from brewd.jobs.analytics_window import Batch, batches, cache_json, hour_key, window

H = timedelta(hours=1)
NOW = datetime(2024, 4, 1, 12, 5, 30, tzinfo=UTC)
TOP = datetime(2024, 4, 1, 12, tzinfo=UTC)


def test_the_window_is_the_last_three_closed_hours() -> None:
    assert window(NOW, None, 72) == (TOP - 3 * H, TOP)
    assert window(NOW, TOP - 2 * H, 72) == (TOP - 3 * H, TOP)  # nothing missed


def test_the_window_reaches_back_to_the_newest_stored_hour_after_downtime() -> None:
    assert window(NOW, TOP - 10 * H, 72) == (TOP - 10 * H, TOP)


def test_the_window_never_exceeds_the_backfill_cap() -> None:
    assert window(NOW, TOP - 500 * H, 72) == (TOP - 72 * H, TOP)
    assert window(NOW, TOP - 500 * H, 5) == (TOP - 5 * H, TOP)


def test_a_stored_hour_in_the_future_does_not_shrink_the_window() -> None:
    assert window(NOW, TOP + 5 * H, 72) == (TOP - 3 * H, TOP)


def test_now_in_another_zone_still_gives_utc_hours() -> None:
    adelaide_now = NOW.astimezone(timezone(timedelta(hours=10, minutes=30)))
    assert window(adelaide_now, None, 72) == (TOP - 3 * H, TOP)


@pytest.mark.parametrize(
    ("cafes", "hours", "size", "expected"),
    [
        (1_000, 3, 5_000, [(1_000, 3)]),
        (1_000, 72, 5_000, [(1_000, 5)] * 14 + [(1_000, 2)]),
        (12_000, 2, 5_000, [(5_000, 1), (5_000, 1), (2_000, 1)] * 2),
        (3, 4, 1, [(1, 1)] * 12),
    ],
)
def test_batches_cover_every_cafe_and_hour_once_within_the_size(
    cafes: int, hours: int, size: int, expected: list[tuple[int, int]]
) -> None:
    ids = list(range(cafes))
    got = list(batches(TOP - hours * H, TOP, ids, size))
    assert [(len(b.cafe_ids), int((b.end - b.start) / H)) for b in got] == expected
    covered = {(c, h) for b in got for c in b.cafe_ids for h in _hours(b)}
    assert covered == {(c, TOP - (i + 1) * H) for c in ids for i in range(hours)}
    assert len(covered) == sum(len(b.cafe_ids) * len(_hours(b)) for b in got)


def _hours(batch: Batch) -> list[datetime]:
    return [batch.start + i * H for i in range(int((batch.end - batch.start) / H))]


def test_no_cafes_or_no_hours_means_no_batches() -> None:
    assert list(batches(TOP - 3 * H, TOP, [], 5_000)) == []
    assert list(batches(TOP, TOP, [1], 5_000)) == []


def test_the_cached_json_has_the_spec_keys() -> None:
    row = {
        "total_users": 4,
        "active_users": 3,
        "total_pokes": 2,
        "total_messages": 1,
        "average_session_duration": 90.5,
        "peak_concurrent_users": 2,
        "cafe_id": "ignored",
    }
    assert json.loads(cache_json(row)) == {
        "totalUsers": 4,
        "activeUsers": 3,
        "totalPokes": 2,
        "totalMessages": 1,
        "averageSessionDuration": 90.5,
        "peakConcurrentUsers": 2,
    }
    assert hour_key(datetime(2024, 4, 1, 9, tzinfo=UTC)) == "2024-04-01T09"
