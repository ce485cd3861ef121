"""Refused requests (403) in the log: who tried, once per peer uid and interval, then a count."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from brewd.control.peer import Peer

# One line per refused uid per minute: an operator sees who tried and how often, and a loop
# of refused requests from one account cannot flood the journal.
INTERVAL_S = 60.0


@dataclass
class _Episode:
    logged_at: float
    suppressed: int = 0


class RefusalLog:
    """Logs a refused mutating request at WARNING with the peer's uid, gid and pid; further
    refusals of the same uid within INTERVAL_S are counted and reported with the next line."""

    def __init__(
        self, interval: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval, self._clock = interval, clock
        self._episodes: dict[int | None, _Episode] = {}
        self._lock = threading.Lock()

    def refused(self, peer: Peer | None, method: str, path: str, reason: str) -> None:
        uid = None if peer is None else peer.uid
        now = self._clock()
        with self._lock:
            episode = self._episodes.get(uid)
            if episode is not None and now - episode.logged_at < self._interval:
                episode.suppressed += 1
                return
            earlier = episode.suppressed if episode is not None else 0
            self._episodes[uid] = _Episode(logged_at=now)
        who = "a peer without credentials" if peer is None else _describe(peer)
        more = f" (and {earlier} more from this uid since the last line)" if earlier else ""
        logger.bind(event="control_refused", peer_uid=uid).warning(
            f"refused {method} {path} from {who}: {reason}{more}"
        )


def _describe(peer: Peer) -> str:
    """`uid 65534 (nobody) gid 65534 pid 4242`."""
    user, _, pid = peer.describe().rpartition(" pid ")
    return f"{user} gid {peer.gid} pid {pid}"
