"""Calls from the event loop into the blocking ControlPort: on threads, bounded, coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Status and health answers are reused for this long. Under load a status costs several
# database round trips while the event loop competes for the GIL, so each takes tens of ms;
# reusing an answer this young keeps 50 busy clients at thousands of requests/s with a p99 of
# a few ms. Half a second is invisible to a person and far below any job's period, and the
# API's own trigger, pause and resume invalidate it at once.
FRESH_FOR = 0.5
# While one request refreshes an expired answer, others get the previous one meanwhile, but
# never one older than this (a hung database makes them wait and time out instead).
STALE_LIMIT = 2.0


@dataclass(frozen=True)
class _Call:
    generation: int
    started: float
    future: asyncio.Future[Any]


class PortCalls:
    """Runs port methods on the loop's executor so a slow database never blocks the loop.

    Reads that take no argument (status, health) are shared: concurrent requests await one
    call, and its answer serves later requests for FRESH_FOR seconds. A mutation (`changed()`)
    retires both, so `pause` followed by `status` always shows the pause.
    """

    def __init__(
        self,
        timeout: float,
        *,
        fresh_for: float = FRESH_FOR,
        stale_limit: float = STALE_LIMIT,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.timeout, self.fresh_for, self.stale_limit = timeout, fresh_for, stale_limit
        self._clock = clock  # None: the running loop's monotonic time
        self._inflight: dict[str, _Call] = {}
        self._answered: dict[str, tuple[_Call, Any]] = {}
        self._generation = 0

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """fn(*args, **kwargs) on a thread; TimeoutError after `timeout` (the thread runs on)."""
        return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.timeout)

    async def shared(self, key: str, fn: Callable[[], T]) -> T:
        """fn() on a thread, shared with concurrent and (briefly) later callers of `key`."""
        now = self._clock() if self._clock else asyncio.get_running_loop().time()
        answered, flight = self._answered.get(key), self._current(key)
        if answered is not None and answered[0].generation == self._generation:
            age = now - answered[0].started
            if age < self.fresh_for or (flight is not None and age < self.stale_limit):
                reused: T = answered[1]
                return reused
        if flight is None:
            flight = _Call(self._generation, now, asyncio.ensure_future(asyncio.to_thread(fn)))
            self._inflight[key] = flight
            flight.future.add_done_callback(lambda _: self._finished(key, flight))
        # shield: one caller timing out or hanging up must not cancel the others' call
        result: T = await asyncio.wait_for(asyncio.shield(flight.future), self.timeout)
        return result

    def changed(self) -> None:
        """Something the shared reads report has changed: later reads start afresh."""
        self._generation += 1

    def _current(self, key: str) -> _Call | None:
        flight = self._inflight.get(key)
        return flight if flight is not None and flight.generation == self._generation else None

    def _finished(self, key: str, flight: _Call) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        if flight.future.cancelled() or flight.future.exception() is not None:
            return  # errors are never reused: the next request tries again
        previous = self._answered.get(key)
        if previous is None or previous[0].started <= flight.started:
            self._answered[key] = (flight, flight.future.result())
