"""loguru for tests: whatever a test configures is undone, so the next test starts clean."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from loguru import logger


def _no_patch(record: object) -> None:
    """loguru cannot unset a patcher, only replace it."""


@pytest.fixture
def fresh_loguru() -> Iterator[None]:
    """Undo setup_logging after the test: loguru's default stderr sink, no patcher."""
    yield
    logger.remove()
    logger.configure(patcher=_no_patch)
    logger.add(sys.stderr)
    root = logging.getLogger()
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
