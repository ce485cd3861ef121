"""Cache writes that work alike on one Redis server and on a Redis Cluster (SPEC §11).

A cluster refuses a multi-key command whose keys live in different hash slots, and redis-py's
cluster pipeline sends each command to the node owning its slot (one round trip per node,
not transactional). So keys are grouped by hash slot before DEL and MSET; on one server they
all form one group. The keys and values written are the same either way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from redis.client import Pipeline
from redis.cluster import ClusterPipeline
from redis.crc import key_slot

from brewd.adapters.cache import LazyCluster, Redis

Pipe = Pipeline | ClusterPipeline

# Keys per command: one round trip carries many keys, yet no single command is so large
# that it stalls Redis for other clients.
CHUNK = 1_000


def pipeline(client: Redis) -> Pipe:
    """A non-transactional pipeline: per node on a cluster."""
    pipe: Pipe = client.pipeline(transaction=False)
    return pipe


def queue_delete(pipe: Pipe, keys: Iterable[str]) -> None:
    """Queue DEL of every key, many keys to a command, each command within one hash slot."""
    for group in _groups(pipe, dict.fromkeys(keys)):
        for start in range(0, len(group), CHUNK):
            chunk = group[start : start + CHUNK]
            pipe.execute_command("DEL", *chunk)  # type: ignore[no-untyped-call]


def queue_set_many(pipe: Pipe, values: Mapping[str, Any]) -> None:
    """Queue MSET of every key to its value, each command within one hash slot."""
    for group in _groups(pipe, values):
        for start in range(0, len(group), CHUNK):
            pairs = [part for key in group[start : start + CHUNK] for part in (key, values[key])]
            pipe.execute_command("MSET", *pairs)  # type: ignore[no-untyped-call]


def announce(
    client: Redis, channel: str, message: str, key: str, value: str | int, ttl_s: int
) -> None:
    """PUBLISH `message` and SET `key` with a TTL. A cluster pipeline refuses PUBLISH (any
    node takes it and the cluster forwards it to every node's subscribers), so on a cluster
    it is its own round trip."""
    if isinstance(client, LazyCluster):
        client.publish(channel, message)
        client.set(key, value, ex=ttl_s)
        return
    pipe = client.pipeline(transaction=False)
    pipe.publish(channel, message)
    pipe.set(key, value, ex=ttl_s)
    pipe.execute()


def _groups(pipe: Pipe, keys: Iterable[str]) -> list[list[str]]:
    if not isinstance(pipe, ClusterPipeline):
        return [list(keys)]
    slots: dict[int, list[str]] = defaultdict(list)
    for key in keys:
        slots[key_slot(key.encode())].append(key)
    return list(slots.values())
