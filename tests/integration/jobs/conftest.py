"""The job tests run on both schemas: brewd's own, and the original's adopted by `db init`
(naive `timestamp` columns, database TimeZone America/New_York). Select one with
`-k brewd_schema` or `-k original_schema`.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["brewd_schema", "original_schema"])
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """A fresh database private to this test, of the parametrized schema."""
    if request.param == "original_schema":
        return str(request.getfixturevalue("legacy_adopted_dsn"))
    return str(request.getfixturevalue("pg_dsn_brewd"))
