"""Every job's cache effects on a real 3-master Redis Cluster equal those on one Redis server.

The same generated world is loaded into two databases; before each job both caches get the
same stale entries (so deletions and recounts have something to do), the job runs once against
each (small batches: many multi-key commands, keys spread over all three masters), and every
key, type, value and whether it has a TTL must be equal afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
from loguru import logger
from psycopg.rows import dict_row

from brewd.adapters.cache import make_client, wrap_errors
from brewd.adapters.cache_ops import pipeline, queue_delete
from brewd.core.config import Config, DatabaseConfig, ProactiveConfig, RedisConfig
from brewd.core.errors import CacheError
from brewd.db import migrate
from brewd.demo import worldgen
from brewd.jobs import ALL_JOBS
from brewd.jobs.base import JobContext
from tests.helpers import wait_until
from tests.integration.jobs.expiry_rows import NOW, Conn, closed_port_url
from tests.integration.jobs.proactive_world import Connector
from tests.redis_cluster import LocalCluster

JOBS = (
    "expireUsers",
    "expireBadges",
    "calculateBadges",
    "expirePokes",
    "aggregateAnalytics",
    "proactiveMessages",
)
Dump = dict[str, tuple[str, Any, bool]]


@pytest.fixture
def twin(pg: Conn, pg_empty_dsn: str) -> Iterator[Conn]:
    """A second database holding the same world as `pg`."""
    worldgen.generate(pg, users=1_500, cafes=15, now=NOW, seed=5)
    with psycopg.connect(pg_empty_dsn, autocommit=True, row_factory=dict_row) as other:
        migrate.apply(other)
        worldgen.generate(other, users=1_500, cafes=15, now=NOW, seed=5)
        yield other


def context(conn: Conn, url: str, *, cluster: bool) -> JobContext:
    """A run context; a generous socket timeout, since a loaded CI machine is no Redis outage."""
    config = Config(
        database=DatabaseConfig(batch_size=200),
        redis=RedisConfig(url=url, cluster=cluster, socket_timeout=30.0),
        proactive=ProactiveConfig(enabled=True),
    )
    cache = make_client(config.redis)
    return JobContext(
        conn=conn, cache=cache, config=config, now=NOW, log=logger, db=Connector(conn.info.dsn)
    )


def seed_stale(client: Any, conn: Conn) -> None:
    """The entries an API server would have cached, all of them stale."""
    pipe = client.pipeline(transaction=False)
    users = conn.execute("SELECT id, cafe_id, username FROM users").fetchall()
    for user in users:
        uid = user["id"]
        for suffix in ("", ":badges", ":pokes:sent", ":pokes:received"):
            pipe.set(f"user:{uid}{suffix}", "stale")
        pipe.set(f"user:{uid}:poke_count", 99)
        pipe.set(f"cafe:{user['cafe_id']}:username:{user['username']}", str(uid))
        pipe.sadd(f"cafe:{user['cafe_id']}:active_users", str(uid))
    for cafe in conn.execute("SELECT id FROM cafes").fetchall():
        pipe.set(f"cafe:{cafe['id']}:active_user_count", 999_999)
    pipe.execute()


def dump(clients: list[redis.Redis]) -> Dump:
    """Every key of every node: its type, value, and whether it expires."""
    found: Dump = {}
    for client in clients:
        for key in client.keys("*"):
            kind = client.type(key)
            value: Any = client.get(key) if kind == "string" else sorted(client.smembers(key))
            found[str(key)] = (str(kind), value, client.ttl(key) > 0)
    return found


def run(job: str, conn: Conn, url: str, *, cluster: bool) -> None:
    ctx = context(conn, url, cluster=cluster)
    try:
        message = ALL_JOBS[job].run(ctx).message
    finally:
        ctx.cache.close()
    assert "failed" not in message, message


@pytest.fixture
def nodes(redis_cluster: LocalCluster) -> Iterator[list[redis.Redis]]:
    clients = redis_cluster.node_clients()
    yield clients
    for client in clients:
        client.close()


@pytest.fixture
def cluster_client(redis_cluster: LocalCluster) -> Iterator[Any]:
    client = make_client(cluster_config(redis_cluster))
    yield client
    client.close()


def test_every_job_leaves_the_same_cache_on_a_cluster_as_on_one_server(
    pg: Conn,
    twin: Conn,
    cache: redis.Redis,
    redis_url: str,
    redis_cluster: LocalCluster,
    nodes: list[redis.Redis],
    cluster_client: Any,
) -> None:
    for job in JOBS:
        cache.flushdb()
        redis_cluster.flush()
        for client, conn in ((cache, pg), (cluster_client, twin)):
            seed_stale(client, conn)
        before = dump([cache])
        assert before == dump(nodes)

        run(job, pg, redis_url, cluster=False)
        run(job, twin, redis_cluster.url, cluster=True)

        single, clustered = dump([cache]), dump(nodes)
        assert single != before, f"{job} changed nothing in the cache: the test proves nothing"
        assert clustered == single, f"{job}: the cluster's cache differs from one server's"
    # The keys were spread over every master, so cross-slot commands were really exercised.
    assert all(node.dbsize() > 0 for node in nodes)


def cluster_config(cluster: LocalCluster) -> RedisConfig:
    return RedisConfig(url=cluster.url, cluster=True, socket_timeout=30.0)


def test_deleting_keys_of_many_slots_in_one_pipeline(
    cluster_client: Any, nodes: list[redis.Redis]
) -> None:
    client = cluster_client
    keys = [f"user:{n}:badges" for n in range(3_000)]
    pipe = pipeline(client)
    for key in keys:
        pipe.set(key, "x")
    pipe.execute()
    pipe = pipeline(client)
    queue_delete(pipe, keys)
    pipe.execute()
    assert sum(node.dbsize() for node in nodes) == 0


def test_publish_reaches_a_subscriber_on_any_node(
    pg: Conn, redis_cluster: LocalCluster, nodes: list[redis.Redis]
) -> None:
    worldgen.generate(pg, users=1_500, cafes=15, now=NOW, seed=5)
    listener = nodes[-1].pubsub()
    listener.psubscribe("cafe:*:messages")
    wait_until(lambda: listener.get_message(timeout=0.1), what="psubscribe confirmation")

    ctx = context(pg, redis_cluster.url, cluster=True)
    posted = ALL_JOBS["proactiveMessages"].run(ctx).affected_records
    ctx.cache.close()

    assert posted > 0
    received: list[dict[str, Any]] = []

    def all_received() -> bool:
        message = listener.get_message(timeout=0.1)
        if message and message["type"] == "pmessage":
            received.append(json.loads(message["data"]))
        return len(received) == posted

    wait_until(all_received, what=f"{posted} AGENT_MESSAGE publications")
    assert {payload["type"] for payload in received} == {"AGENT_MESSAGE"}
    listener.close()


def test_health_probe_answers_on_a_cluster_and_fails_cleanly_without_one(
    cluster_client: Any,
) -> None:
    assert cluster_client.ping() is True
    down = make_client(RedisConfig(url=closed_port_url(), cluster=True, socket_timeout=1.0))
    with pytest.raises(CacheError, match="redis: "), wrap_errors():
        down.ping()
