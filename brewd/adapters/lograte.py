"""Folding repeated log lines: the first of identical warnings passes, the copies within the
window are counted, and the next one after it passes carrying the count. A stuck dependency
or a flood of bad requests then costs a line a minute, not a line per attempt."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WINDOW_S = 60.0
MAX_KEYS = 1000  # distinct lines remembered; older ones are forgotten first
SUPPRESSED = "repeat_suppressed"  # the extra key a patched record carries when it is held back
FOLDED_FROM = 30  # loguru's WARNING: lower levels are never folded (debug is asked for)


@dataclass
class _Seen:
    first: float
    held: int = 0


class RepeatFolder:
    """Decides once per record (as a loguru patcher) whether it is a repeat; the sinks' filters
    then drop records marked with SUPPRESSED. Keyed on level, event and the masked message."""

    def __init__(self, window: float = WINDOW_S, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[int, str, str], _Seen] = {}

    def patch(self, record: Any) -> None:
        if record["level"].no < FOLDED_FROM:
            return
        key = (record["level"].no, str(record["extra"].get("event", "")), record["message"])
        now = self._clock()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen.first < self.window:
                seen.held += 1
                record["extra"][SUPPRESSED] = True
                return
            self._remember(key, now)
        if seen is not None and seen.held:
            record["message"] += (
                f" (and {seen.held} more like it in the {now - seen.first:.0f}s before)"
            )

    def _remember(self, key: tuple[int, str, str], now: float) -> None:
        self._seen.pop(key, None)
        if len(self._seen) >= MAX_KEYS:
            del self._seen[next(iter(self._seen))]  # dicts keep insertion order: the oldest
        self._seen[key] = _Seen(now)


def shown(record: Any) -> bool:
    """For sink filters: False for a record the folder held back."""
    return not record["extra"].get(SUPPRESSED, False)
