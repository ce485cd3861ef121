"""Calls from the event loop into the blocking ControlPort: on threads, bounded, coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class PortCalls:
    """Runs port methods on the loop's executor so a slow database never blocks the loop.

    Reads that take no argument (status, health) are coalesced: while one call is in flight,
    other requests for the same thing await it instead of starting their own. A burst of N
    readers costs one database round trip, and every answer is at most one round trip old.
    A mutation (`changed()`) stops later readers from joining a call that began before it,
    so `pause` followed by `status` always shows the pause.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._inflight: dict[str, tuple[int, asyncio.Future[Any]]] = {}
        self._generation = 0

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """fn(*args, **kwargs) on a thread; TimeoutError after `timeout` (the thread runs on)."""
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.timeout)

    async def shared(self, key: str, fn: Callable[[], T]) -> T:
        """fn() on a thread, shared with concurrent callers of the same key."""
        entry = self._inflight.get(key)
        if entry is None or entry[0] != self._generation:
            future: asyncio.Future[T] = asyncio.ensure_future(asyncio.to_thread(fn))
            entry = (self._generation, future)
            self._inflight[key] = entry
            future.add_done_callback(lambda done: self._forget(key, done))
        # shield: one caller timing out or disconnecting must not cancel the others' call
        result: T = await asyncio.wait_for(asyncio.shield(entry[1]), self.timeout)
        return result

    def changed(self) -> None:
        """Something the shared reads report has changed: later reads start afresh."""
        self._generation += 1

    def _forget(self, key: str, done: asyncio.Future[Any]) -> None:
        if self._inflight.get(key, (None, None))[1] is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # mark it retrieved: callers that timed out never will
