"""Job tests: Claude writers made by a test are closed with it (their HTTP connections)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.jobs.proactive_world import close_writers


@pytest.fixture(autouse=True)
def _close_claude_writers() -> Iterator[None]:
    yield
    close_writers()
