"""proactiveMessages at cut-over: the original scheduler's own rate-limit key is honoured too.

The original judged its 10-minute limit from `cafe:{id}:last_proactive_message` (epoch ms) and
kept no record brewd's database limit can see, so a café it posted to a minute before the
switch would otherwise get a second message at once. brewd writes the key in the same format
(proactive_messages._announce), so a rollback to the original is held back the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from brewd.adapters import cache as keys
from brewd.core.errors import CacheError
from brewd.jobs.base import JobContext


def posted_recently(
    ctx: JobContext, cafe_ids: Sequence[UUID], now: datetime, interval: timedelta
) -> set[UUID]:
    """The cafés whose key says a message went out less than `interval` before (or after:
    clocks of two hosts differ) `now`. Redis down: none, the database limit still holds."""
    if not cafe_ids:
        return set()
    try:
        with keys.wrap_errors():
            values = ctx.cache.mget([keys.cafe_last_proactive_message(c) for c in cafe_ids])
    except CacheError as exc:
        ctx.log.bind(event="proactive_legacy_limit_unread").warning(
            f"cannot read the original's last_proactive_message keys: {exc}"
        )
        return set()
    now_ms, interval_ms = now.timestamp() * 1000, interval.total_seconds() * 1000
    recent = set()
    for cafe_id, value in zip(cafe_ids, values, strict=True):
        at = keys.parse_epoch_ms(value)
        # A time further ahead than one interval is not a clock difference but a bad value.
        if at is not None and abs(now_ms - at) < interval_ms:
            recent.add(cafe_id)
    return recent
