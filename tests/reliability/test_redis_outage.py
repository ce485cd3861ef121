"""Redis behind a proxy the test cuts: every job's database work completes, health says
degraded, and the recounts of later runs repair the counts once Redis is back."""

from __future__ import annotations

from typing import Any

import psycopg
import redis

from tests.helpers import wait_until
from tests.reliability.conftest import Spawn, redis_via
from tests.reliability.proxy import Proxy
from tests.reliability.world import JOBS, database_effects, one, seed

Conn = psycopg.Connection[dict[str, Any]]


def test_redis_down_database_work_of_every_job_completes_and_recounts_repair_later(
    spawn: Spawn, redis_proxy: Proxy, pg_dsn: str, pg: Conn, redis_url: str, cache: redis.Redis
) -> None:
    world = seed(pg)
    redis_proxy.cut()
    daemon = spawn(
        pg_dsn,
        redis_via(redis_proxy, redis_url),
        ENABLE_SCHEDULER="false",
        ENABLE_PROACTIVE_MESSAGES="true",
        BREWD_REDIS_SOCKET_TIMEOUT="1",
    )
    health = daemon.health()
    assert (health.status, health.body["status"]) == (200, "degraded")
    assert health.body["redis"]["up"] is False
    for job in JOBS:
        reply = daemon.trigger(job)
        assert (reply.status, reply.body["status"]) == (200, "succeeded"), reply.body
        if job != "aggregateAnalytics" or reply.body["affected_records"]:
            assert reply.body["affected_records"] > 0, reply.body
    effects = database_effects(pg)
    assert effects["active_expired_users"] == 0
    assert effects["open_sessions_of_inactive"] == 0
    assert effects["active_expired_badges"] == 0
    assert effects["butterflies"] == 2
    assert effects["live_expired_pokes"] == 0
    assert effects["analytics_rows"] >= 3 * len(world.cafes)
    assert effects["agent_messages"] == len(world.cafes)  # recorded even though not announced
    assert "cache update failed" in daemon.output()

    # Redis is back, holding counts that drifted while it was away; one more user of the first
    # café expires and one more poke of its first sender: the recounts set exact numbers.
    redis_proxy.restore()
    wait_until(lambda: daemon.health().body["status"] == "healthy", 30, "health healthy")
    cafe, sender = world.cafes[0], world.live_users[1]
    count_key = f"cafe:{cafe}:active_user_count"
    cache.set(count_key, 99)
    cache.set(f"user:{sender}:poke_count", 42)
    late = one(
        pg,
        "INSERT INTO users (username, cafe_id, expires_at) VALUES ('late', %s, now()) RETURNING id",
        (cafe,),
    )
    pg.execute(
        "INSERT INTO pokes (from_user_id, to_user_id, expires_at) VALUES (%s, %s, now()),"
        " (%s, %s, now() + interval '1 hour')",
        (sender, late, sender, world.live_users[0]),
    )
    for job in ("expireUsers", "expirePokes"):
        reply = daemon.trigger(job)
        assert "cache update failed" not in reply.body["message"], reply.body
    active = one(pg, "SELECT count(*) FROM users WHERE cafe_id = %s AND is_active", (cafe,))
    assert cache.get(count_key) == str(active) == "2"
    assert cache.get(f"user:{sender}:poke_count") == "1"
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()
