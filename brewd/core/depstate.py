"""A dependency's last known state (up, or down since when and why), so nobody has to wait on a
dead server to learn it: connection attempts and a background probe write it, the loop, the
control API and the pool's callers read it."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger

from brewd.core.errors import DatabaseUnavailable


@dataclass(frozen=True)
class Snapshot:
    """One reading of the state, consistent across its fields."""

    up: bool
    since: datetime  # when it last changed between up and down (wall clock, UTC)
    error: DatabaseUnavailable | None  # the cause while down
    latency_ms: float | None  # of the last successful probe


class DependencyState:
    """Thread-safe; logs one line when the dependency goes down (or its cause changes) and
    one when it comes back, never one per failed attempt."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._snapshot = Snapshot(True, datetime.now(UTC), None, None)
        self.known = False  # no attempt has finished yet: "up" is only the optimistic default

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    @property
    def is_down(self) -> bool:
        return not self.snapshot().up

    def mark_up(self, latency_ms: float | None = None) -> None:
        with self._lock:
            was, self.known = self._snapshot, True
            since = was.since if was.up else datetime.now(UTC)
            self._snapshot = Snapshot(True, since, None, latency_ms)
        if not was.up:
            logger.bind(event=f"{self.name}_up").info(
                "{} is back after {:.1f}s down", self.name, (since - was.since).total_seconds()
            )

    def mark_down(self, error: DatabaseUnavailable) -> None:
        with self._lock:
            was, self.known = self._snapshot, True
            since = datetime.now(UTC) if was.up else was.since
            self._snapshot = Snapshot(False, since, error, None)
        if was.up or str(was.error) != str(error):
            logger.bind(event=f"{self.name}_down").warning("{}", error)

    def raise_if_down(self) -> None:
        """Fail at once with the known cause, rather than wait on a dead server."""
        current = self.snapshot()
        if not current.up and current.error is not None:
            error = current.error
            # The timestamp only, no "N s ago": the same cause gives the same line, which the
            # log's repeat filter can then fold.
            raise type(error)(f"{error} (down since {iso_utc(current.since)})")


def describe_since(since: datetime, now: datetime | None = None) -> str:
    """'2026-12-04T17:02:11Z, 42s ago': absolute for the logs, relative for a person."""
    now = now or datetime.now(UTC)
    ago = max((now - since).total_seconds(), 0.0)
    return f"{iso_utc(since)}, {ago:.0f}s ago"


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
