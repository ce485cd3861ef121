"""Folding repeated warnings: one line, then a count with the next one after the window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loguru import logger

from brewd.adapters.lograte import RepeatFolder, shown


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lines(clock: Clock) -> Iterator[list[str]]:
    folder = RepeatFolder(window=60.0, clock=clock)
    out: list[str] = []
    logger.configure(patcher=folder.patch)
    handler = logger.add(out.append, format="{message}", filter=shown, level="DEBUG")
    yield out
    logger.remove(handler)
    logger.configure(patcher=lambda record: None)


def test_identical_warnings_pass_once_then_with_a_count(clock: Clock, lines: list[str]) -> None:
    for _ in range(50):
        logger.bind(event="claim_failed").warning("database unavailable: refused")
        clock.now += 1.0  # 50 in 50 s: all inside the first window
    clock.now = 61.0
    logger.bind(event="claim_failed").warning("database unavailable: refused")
    assert [line.strip() for line in lines] == [
        "database unavailable: refused",
        "database unavailable: refused (and 49 more like it in the 61s before)",
    ]


def test_different_lines_and_lower_levels_are_never_folded(clock: Clock, lines: list[str]) -> None:
    logger.warning("a")
    logger.warning("b")
    logger.bind(event="other").warning("a")
    for _ in range(3):
        logger.info("progress")
    assert len(lines) == 6
