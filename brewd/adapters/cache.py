"""Redis: the client, and every cache key name the API servers and brewd share (SPEC §4)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from brewd.config import RedisConfig
from brewd.errors import CacheError

Redis = redis.Redis


def make_client(config: RedisConfig) -> Redis:
    """A client with timeouts, so a hung Redis can never hang a job."""
    return redis.Redis.from_url(
        config.url,
        socket_timeout=config.socket_timeout,
        socket_connect_timeout=config.socket_timeout,
        health_check_interval=30,
        decode_responses=True,
    )


@contextmanager
def wrap_errors() -> Iterator[None]:
    """Translate redis-py's errors into CacheError; the URL (it may hold a password) stays out."""
    try:
        yield
    except redis.RedisError as exc:
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


def analytics(cafe_id: object, hour_utc: str) -> str:
    """`hour_utc` is the hour's start as YYYY-MM-DDTHH."""
    return f"analytics:{cafe_id}:{hour_utc}"


ANALYTICS_TTL_S = 86_400
LAST_PROACTIVE_TTL_S = 86_400


# brewd's own keys (the API servers never read them). One hash tag, so that a script may
# touch both on a Redis Cluster: they live in the same hash slot.
PROACTIVE_BUDGET = "brewd:{proactive}:budget"  # sorted set: Claude requests of the last minute
PROACTIVE_PAUSE = "brewd:{proactive}:pause_until"  # epoch ms before which nobody calls Claude
