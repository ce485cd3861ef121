"""The dependency state: one log line per outage (and per change of cause), the cause and the
time it began kept for status and health, callers failing at once with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from brewd.core.depstate import DependencyState
from brewd.core.errors import DatabaseMissing, DatabaseUnavailable


@pytest.fixture
def lines() -> Iterator[list[str]]:
    out: list[str] = []
    handler = logger.add(out.append, format="{message}", level="DEBUG")
    yield out
    logger.remove(handler)


def test_an_outage_is_logged_once_with_its_cause_and_its_end(lines: list[str]) -> None:
    state = DependencyState("database")
    state.mark_up(1.0)
    for _ in range(20):
        state.mark_down(DatabaseUnavailable("database unavailable: Connection refused"))
    began = state.snapshot().since
    state.mark_down(DatabaseMissing('database unavailable: database "x" does not exist'))
    assert state.snapshot().since == began  # the same outage, another cause
    state.mark_up(1.0)
    assert [line.split(" after ")[0].strip() for line in lines] == [
        "database unavailable: Connection refused",
        'database unavailable: database "x" does not exist',
        "database is back",
    ]


def test_callers_fail_at_once_with_the_cause_and_its_kind() -> None:
    state = DependencyState("database")
    state.raise_if_down()  # up: nothing
    state.mark_down(DatabaseMissing('database unavailable: role "r" does not exist'))
    with pytest.raises(DatabaseMissing, match=r'role "r" does not exist \(down since 20'):
        state.raise_if_down()
    assert state.snapshot().error is not None
    assert state.is_down
