"""The job tests run on both schemas: brewd's own, and the original's adopted by `db init`
(naive `timestamp` columns, database TimeZone America/New_York). Select one with
`-k brewd_schema` or `-k original_schema`. Claude writers made by a test are closed with it
(their HTTP connections).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.jobs.proactive_world import close_writers


@pytest.fixture(params=["brewd_schema", "original_schema"])
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """A fresh database private to this test, of the parametrized schema."""
    if request.param == "original_schema":
        return str(request.getfixturevalue("legacy_adopted_dsn"))
    return str(request.getfixturevalue("pg_dsn_brewd"))


@pytest.fixture(autouse=True)
def _close_claude_writers() -> Iterator[None]:
    yield
    close_writers()
