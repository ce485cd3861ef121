"""Redis for tests: one dedicated database number, flushed before and after every test.

BREWD_TEST_REDIS_URL names it; unset, redis://127.0.0.1:6379/15 if that server answers, else
embedded servers (tests/embedded_fallback.py). Give parallel runs different database numbers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests import embedded_fallback

DEFAULT_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("BREWD_TEST_REDIS_URL") or _default_or_embedded()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis is not reachable at {url} ({exc}): start it, or set BREWD_TEST_REDIS_URL",
            returncode=3,
        )
    return url


def _default_or_embedded() -> str:
    client = redis.Redis.from_url(DEFAULT_URL, socket_connect_timeout=2)
    try:
        client.ping()
        return DEFAULT_URL
    except redis.RedisError:
        socket = embedded_fallback.servers("Redis is not running on 127.0.0.1:6379").redis_socket
        return f"unix://{socket}?db=15"
    finally:
        client.close()


@pytest.fixture
def cache(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the flushed test database (decode_responses=True, as brewd uses)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()
