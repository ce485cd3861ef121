"""PortCalls: status and health answers shared and briefly reused, never across a mutation."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable

import pytest

from brewd.control.calls import PortCalls


class Source:
    """A blocking read whose answers count up; `gate` holds a call until the test opens it."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False

    def __call__(self) -> int:
        self.calls += 1
        self.gate.wait(10)
        if self.fail:
            raise ConnectionError("database down")
        return next(self.counter)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(scenario: Callable[[PortCalls, Source, Clock], object]) -> None:
    clock, source = Clock(), Source()
    calls = PortCalls(timeout=5, fresh_for=0.5, stale_limit=2.0, clock=clock)
    asyncio.run(scenario(calls, source, clock))  # type: ignore[arg-type]


async def until_called(source: Source, times: int) -> None:
    """Yield to the loop until the worker thread has entered the call (10 s deadline)."""
    deadline = asyncio.get_running_loop().time() + 10
    while source.calls < times:
        assert asyncio.get_running_loop().time() < deadline, "the call never started"
        await asyncio.sleep(0)


def test_a_young_answer_is_reused_and_an_old_one_refreshed() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        assert await calls.shared("status", source) == 1
        clock.now += 0.4
        assert await calls.shared("status", source) == 1
        clock.now += 0.2
        assert await calls.shared("status", source) == 2
        assert source.calls == 2

    run(scenario)


def test_a_mutation_retires_the_answer_at_once() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        assert await calls.shared("status", source) == 1
        calls.changed()
        assert await calls.shared("status", source) == 2

    run(scenario)


def test_concurrent_readers_share_one_call() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        source.gate.clear()
        readers = [asyncio.ensure_future(calls.shared("status", source)) for _ in range(5)]
        await until_called(source, 1)
        source.gate.set()
        assert await asyncio.gather(*readers) == [1] * 5
        assert source.calls == 1

    run(scenario)


def test_while_one_refreshes_others_get_the_previous_answer() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        assert await calls.shared("status", source) == 1
        clock.now += 1.0
        source.gate.clear()
        refresher = asyncio.ensure_future(calls.shared("status", source))
        await until_called(source, 2)
        assert await calls.shared("status", source) == 1  # served meanwhile, not blocked
        source.gate.set()
        assert await refresher == 2

    run(scenario)


def test_an_answer_past_the_stale_limit_is_never_served() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        assert await calls.shared("status", source) == 1
        clock.now += 3.0
        source.gate.clear()
        first = asyncio.ensure_future(calls.shared("status", source))
        await until_called(source, 2)
        second = asyncio.ensure_future(calls.shared("status", source))
        await asyncio.sleep(0)
        assert not second.done()
        source.gate.set()
        assert list(await asyncio.gather(first, second)) == [2, 2]

    run(scenario)


def test_errors_are_not_reused() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        source.fail = True
        with pytest.raises(ConnectionError):
            await calls.shared("status", source)
        source.fail = False
        assert await calls.shared("status", source) == 1
        assert source.calls == 2

    run(scenario)


def test_a_call_past_the_timeout_raises_timeout_error() -> None:
    async def scenario(calls: PortCalls, source: Source, clock: Clock) -> None:
        calls.timeout = 0.05
        source.gate.clear()
        with pytest.raises(TimeoutError):
            await calls.shared("status", source)
        source.gate.set()

    run(scenario)
