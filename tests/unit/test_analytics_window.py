"""aggregateAnalytics' window, chunks and batches: pure decisions, tested without a database."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from brewd.jobs.analytics_window import batch_starts, cache_json, chunks, hour_key, window

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
    ("hours", "expected"),
    [(1, [1]), (3, [3]), (24, [24]), (25, [24, 1]), (72, [24, 24, 24]), (0, [])],
)
def test_chunks_cover_the_window_oldest_first_a_day_at_most(
    hours: int, expected: list[int]
) -> None:
    got = list(chunks(TOP - hours * H, TOP))
    assert [int((stop - start) / H) for start, stop in got] == expected
    assert all(a[1] == b[0] for a, b in itertools.pairwise(got))  # contiguous
    if got:
        assert (got[0][0], got[-1][1]) == (TOP - hours * H, TOP)


def test_batch_starts_number_every_row_once_within_the_size() -> None:
    assert list(batch_starts(12_000, 5_000)) == [0, 5_000, 10_000]
    assert list(batch_starts(5_000, 5_000)) == [0]
    assert list(batch_starts(3, 1)) == [0, 1, 2]
    assert list(batch_starts(0, 5_000)) == []


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
