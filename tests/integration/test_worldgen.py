"""The world generator: sizes, zones, determinism, schema left intact, and work for every job."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from psycopg.rows import dict_row

from brewd.core.errors import BrewdError
from brewd.db import migrate
from brewd.demo import worldgen
from brewd.jobs import ALL_JOBS
from tests.integration.jobs.expiry_rows import NOW, Conn, make_ctx, one

USERS, CAFES = 800, 12
FINGERPRINT = """
SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
    SELECT id, name, timezone, enable_proactive_messages, is_active FROM cafes
    UNION ALL SELECT id, username || expires_at || is_active, cafe_id::text, null, null
              FROM users
    UNION ALL SELECT id, started_at || ':' || coalesce(ended_at::text, 'open'), user_id::text,
                     null, null FROM user_sessions
    UNION ALL SELECT id, from_user_id || '>' || to_user_id || coalesce(expired_at::text, ''),
                     created_at::text, null, null FROM pokes
    UNION ALL SELECT id, content, created_at::text, null, null FROM messages
) AS t
"""
INDEXES = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"


@pytest.fixture
def world(pg: Conn) -> worldgen.WorldStats:
    return worldgen.generate(pg, users=USERS, cafes=CAFES, now=NOW, seed=3)


def test_sizes_and_zones(pg: Conn, world: worldgen.WorldStats) -> None:
    assert (world.cafes, world.users) == (CAFES, USERS)
    assert world.sessions == one(pg, "SELECT count(*) FROM user_sessions") > 2 * USERS
    assert world.pokes == one(pg, "SELECT count(*) FROM pokes") > USERS
    assert world.messages == one(pg, "SELECT count(*) FROM messages") > USERS
    zones = {row["timezone"] for row in pg.execute("SELECT timezone FROM cafes")}
    assert {"UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Adelaide"} <= zones
    # Consistent by construction (the foreign-key triggers were skipped while loading).
    assert one(pg, "SELECT count(*) FROM user_sessions WHERE ended_at < started_at") == 0
    orphans = """SELECT count(*) FROM pokes AS p JOIN users AS a ON a.id = p.from_user_id
                 JOIN users AS b ON b.id = p.to_user_id WHERE a.cafe_id <> b.cafe_id"""
    assert one(pg, orphans) == 0
    assert one(pg, "SELECT count(*) FROM pokes") == world.pokes  # every poke joined both sides


def test_every_job_has_work(pg: Conn, redis_url: str, world: worldgen.WorldStats) -> None:
    assert min(world.users_due, world.badges_due, world.pokes_due, world.pokes_purgeable) > 0
    for name, job in ALL_JOBS.items():
        if name != "proactiveMessages":  # off by default; its precondition is checked below
            assert job.run(make_ctx(pg, redis_url)).affected_records > 0, name
    eligible = """
        SELECT count(*) FROM cafes AS c
        WHERE c.is_active AND c.enable_proactive_messages
          AND (SELECT count(DISTINCT u.id) FROM users AS u
               JOIN user_sessions AS s ON s.user_id = u.id AND s.ended_at IS NULL
               WHERE u.cafe_id = c.id AND u.is_active) >= 5"""
    assert one(pg, eligible) > 0


def test_same_seed_same_world_and_schema_intact(pg: Conn, pg_empty_dsn: str) -> None:
    before = pg.execute(INDEXES).fetchall()
    worldgen.generate(pg, users=300, cafes=5, now=NOW, seed=9)
    assert pg.execute(INDEXES).fetchall() == before  # dropped for the load, rebuilt the same
    with psycopg.connect(pg_empty_dsn, autocommit=True, row_factory=dict_row) as other:
        migrate.apply(other)
        worldgen.generate(other, users=300, cafes=5, now=NOW, seed=9)
        assert one(other, FINGERPRINT) == one(pg, FINGERPRINT)


def test_another_seed_another_world(pg: Conn, pg_empty_dsn: str) -> None:
    worldgen.generate(pg, users=300, cafes=5, now=NOW, seed=1)
    with psycopg.connect(pg_empty_dsn, autocommit=True, row_factory=dict_row) as other:
        migrate.apply(other)
        worldgen.generate(other, users=300, cafes=5, now=NOW, seed=2)
        assert one(other, FINGERPRINT) != one(pg, FINGERPRINT)


def test_refuses_a_database_that_has_cafes(pg: Conn) -> None:
    pg.execute("INSERT INTO cafes (name) VALUES ('Existing')")
    with pytest.raises(BrewdError, match="already has cafés"):
        worldgen.generate(pg, users=10, cafes=1, now=NOW)
    assert one(pg, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0, "cafes": 1, "now": NOW}, "at least one user"),
        ({"users": 5, "cafes": 0, "now": NOW}, "at least one user"),
        ({"users": 5, "cafes": 1, "now": datetime(2026, 3, 10)}, "timezone-aware"),
        ({"users": 5, "cafes": 1, "now": NOW, "seed": -1}, "seed"),
        ({"users": 5, "cafes": 1, "now": NOW, "messages_per_user": -1}, "messages_per_user"),
    ],
)
def test_bad_arguments(pg: Conn, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        worldgen.generate(pg, **kwargs)  # type: ignore[arg-type]


def test_messages_per_user_sets_the_message_count_past_the_smallint_range(pg: Conn) -> None:
    # 10 x 4,000 = 40,000: bound as two small integers, the product once overflowed smallint.
    stats = worldgen.generate(pg, users=4_000, cafes=4, now=NOW, messages_per_user=10)
    assert stats.messages == 40_000


def test_a_one_user_cafe_gets_no_pokes(pg: Conn) -> None:
    stats = worldgen.generate(pg, users=3, cafes=3, now=NOW)
    assert (stats.users, stats.pokes) == (3, 0)  # no one to poke, and never oneself
