"""Redis: the client, and every cache key name the API servers and brewd share (SPEC §4)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from brewd.core.config import RedisConfig
from brewd.core.errors import CacheError


class LazyCluster:
    """A redis-py RedisCluster made on first use. RedisCluster asks a node for the slot map
    when it is constructed and raises if none answers; made lazily, a cluster that is down
    when brewd starts costs its cache steps (best-effort), never the daemon's start. Every
    attribute is the real client's; a failed first contact is retried on the next use."""

    def __init__(self, config: RedisConfig) -> None:
        self._config = config
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()

    def client(self) -> RedisCluster:
        with self._lock:
            if self._client is None:
                self._client = RedisCluster.from_url(self._config.url, **_options(self._config))
            return self._client

    def close(self) -> None:
        """Close the cluster's connections; a client never made has none (and must not be
        made now: closing at shutdown must not wait on a cluster that is down)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client(), name)


Redis = redis.Redis | LazyCluster


def make_client(config: RedisConfig) -> Redis:
    """A client with timeouts, so a hung Redis can never hang a job: one server's, or with
    redis.cluster the cluster's, found from the node REDIS_URL names."""
    if config.cluster:
        return LazyCluster(config)
    return redis.Redis.from_url(config.url, **_options(config))


def _options(config: RedisConfig) -> dict[str, Any]:
    return {
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_timeout,
        "health_check_interval": 30,
        "decode_responses": True,
    }


@contextmanager
def wrap_errors() -> Iterator[None]:
    """Translate redis-py's errors into CacheError; the URL (it may hold a password) stays out."""
    try:
        yield
    except (redis.RedisError, RedisClusterException) as exc:  # the latter is no RedisError
        raise CacheError(f"redis: {type(exc).__name__}: {exc}") from exc


# Key names. The API servers read these; changing one is a protocol change.
def user(user_id: object) -> str:
    return f"user:{user_id}"


def user_badges(user_id: object) -> str:
    return f"user:{user_id}:badges"


def user_pokes_sent(user_id: object) -> str:
    return f"user:{user_id}:pokes:sent"


def user_pokes_received(user_id: object) -> str:
    return f"user:{user_id}:pokes:received"


def user_poke_count(user_id: object) -> str:
    return f"user:{user_id}:poke_count"


def username(name: str) -> str:
    """The original's username index (expireUsers.ts deleted it on expiry); brewd deletes it
    too, so none written before the cut-over outlives its user."""
    return f"user:username:{name}"


def cafe_username(cafe_id: object, username: str) -> str:
    return f"cafe:{cafe_id}:username:{username}"


def cafe_active_users(cafe_id: object) -> str:
    return f"cafe:{cafe_id}:active_users"


def cafe_active_user_count(cafe_id: object) -> str:
    return f"cafe:{cafe_id}:active_user_count"


def cafe_messages_channel(cafe_id: object) -> str:
    return f"cafe:{cafe_id}:messages"


def cafe_last_proactive_message(cafe_id: object) -> str:
    return f"cafe:{cafe_id}:last_proactive_message"


def parse_epoch_ms(value: str | bytes | None) -> int | None:
    """A last_proactive_message value (the original's format: epoch milliseconds as decimal
    digits, `Date.now().toString()`), or None when absent or not that format. Bounded before
    conversion: the value is whatever another program left in a shared Redis."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if value is None or not (0 < len(value) <= 15 and value.isascii() and value.isdigit()):
        return None
    return int(value)


def analytics(cafe_id: object, hour_utc: str) -> str:
    """`hour_utc` is the hour's start as YYYY-MM-DDTHH."""
    return f"analytics:{cafe_id}:{hour_utc}"


ANALYTICS_TTL_S = 86_400
LAST_PROACTIVE_TTL_S = 86_400


# brewd's own keys (the API servers never read them). One hash tag, so that a script may
# touch both on a Redis Cluster: they live in the same hash slot.
PROACTIVE_BUDGET = "brewd:{proactive}:budget"  # sorted set: Claude requests of the last minute
PROACTIVE_PAUSE = "brewd:{proactive}:pause_until"  # epoch ms before which nobody calls Claude
