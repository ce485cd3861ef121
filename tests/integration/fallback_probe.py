"""Run by test_embedded_fallback in a network namespace with no servers: the fixtures must fall
back to embedded servers (not collected on its own: the name does not start with test_)."""

from __future__ import annotations

from typing import Any

import psycopg
import redis


def test_fixtures_use_embedded_servers(pg: psycopg.Connection[Any], cache: redis.Redis) -> None:
    assert pg.info.host.startswith("/")  # a socket directory, not 127.0.0.1
    row = pg.execute("SELECT count(*) AS n FROM schema_migrations").fetchone()
    assert row is not None
    assert row["n"] >= 1
    assert cache.connection_pool.connection_kwargs["path"].endswith("redis.sock")
    cache.set("probe", "1")
    assert cache.get("probe") == "1"
