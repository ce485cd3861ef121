"""Bounding the control server's connections: a cap on how many are open at once (the excess
is closed on accept, silently), and resource errors (out of descriptors) logged once per
episode instead of once per failed accept."""

from __future__ import annotations

import asyncio
import errno
import time
from typing import Any

from loguru import logger

RESOURCE_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
EPISODE_GAP_S = 60.0  # this long without the condition ends an episode; the next one is logged


class Episodes:
    """Says whether a recurring condition starts a new episode (log it) or continues one."""

    def __init__(self, gap: float = EPISODE_GAP_S) -> None:
        self.gap = gap
        self._last = float("-inf")
        self.count = 0  # occurrences in the current episode

    def starts(self, now: float) -> bool:
        new = now - self._last > self.gap
        self._last = now
        self.count = 1 if new else self.count + 1
        return new


class ConnectionCap:
    """Counts the open connections of one server (event-loop thread only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.shed = 0  # closed on accept since the server started
        self._episodes = Episodes()

    def admit(self) -> bool:
        if self.open < self.limit:
            self.open += 1
            return True
        self.shed += 1
        if self._episodes.starts(time.monotonic()):
            logger.bind(event="control_connections_capped").warning(
                "control: {} connections open (control.max_connections); closing new ones "
                "until some end (logged once per episode)",
                self.open,
            )
        return False

    def release(self) -> None:
        self.open -= 1


class Refused(asyncio.Protocol):
    """The protocol of a connection over the cap: closed at once (its descriptor freed)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()  # nothing was read or written: the descriptor goes at once


class ResourceErrorHandler:
    """An event-loop exception handler: asyncio reports every accept() that fails for lack of
    descriptors (with a traceback); this says it once per episode, in one line."""

    def __init__(self) -> None:
        self._episodes = Episodes()

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if not (isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS):
            loop.default_exception_handler(context)
            return
        if self._episodes.starts(time.monotonic()):
            logger.bind(event="control_resource_error").error(
                "control: {} ({}); new connections wait. Raise LimitNOFILE= or lower "
                "control.max_connections (logged once per episode)",
                context.get("message", "accept failed"),
                exc.strerror or exc,
            )
