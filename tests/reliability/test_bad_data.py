"""Rows the API servers could have written badly, next to good ones, through all six jobs in a
real daemon: each job skips or clamps the bad rows, says so once, and still does the rest."""

from __future__ import annotations

from typing import Any

import psycopg

from tests.reliability.conftest import Spawn
from tests.reliability.world import JOBS, World, database_effects, one, seed

Conn = psycopg.Connection[dict[str, Any]]
BIG = "ab" * 50_000  # a 100 KB message


def bad_rows(pg: Conn, world: World) -> None:
    good_cafe, live = world.cafes[0], world.live_users[0]
    for zone in ("Mars/Olympus", ""):  # unknown names, people in session, café host enabled
        cafe = one(
            pg,
            "INSERT INTO cafes (name, timezone, enable_proactive_messages) VALUES (%s, %s, true)"
            " RETURNING id",
            (f"Nowhere {zone}", zone),
        )
        users = [
            one(
                pg,
                "INSERT INTO users (username, cafe_id, expires_at) VALUES (%s, %s, now() +"
                " interval '1 day') RETURNING id",
                (f"{zone}-{n}", cafe),
            )
            for n in range(2)
        ]
        pg.execute(
            "INSERT INTO user_sessions (user_id, started_at) SELECT id, now() - interval '1 hour'"
            " FROM users WHERE cafe_id = %s",
            (cafe,),
        )
        pg.execute(  # a Social Butterfly: the one badge the zone does not matter for
            "INSERT INTO pokes (from_user_id, to_user_id, expires_at) SELECT %s, %s,"
            " now() + interval '1 day' FROM generate_series(1, 10)",
            (users[0], users[1]),
        )
    # Users without sessions, expired and live; a session that ends before it starts; a
    # 100 KB message; NULLs where the schema allows them; a poke and a badge that expired
    # before they were made; a badge that never expires.
    pg.execute(
        "INSERT INTO users (username, cafe_id, expires_at) VALUES ('lonely-gone', %s,"
        " now() - interval '1 minute'), ('lonely-here', %s, now() + interval '1 day')",
        (good_cafe, good_cafe),
    )
    pg.execute(
        "INSERT INTO user_sessions (user_id, started_at, ended_at)"
        " VALUES (%s, now() - interval '70 minutes', now() - interval '150 minutes')",
        (live,),
    )
    pg.execute("INSERT INTO messages (user_id, content) VALUES (%s, %s)", (live, BIG))
    pg.execute(
        "INSERT INTO pokes (from_user_id, to_user_id, message, expires_at)"
        " VALUES (%s, %s, NULL, now() - interval '1 day')",
        (live, world.live_users[1]),
    )
    pg.execute(
        "INSERT INTO badges (user_id, type, name, description, expires_at) VALUES"
        " (%s, 'ODD', 'Odd', NULL, now() - interval '10 days'),"
        " (%s, 'FOREVER', 'Forever', NULL, NULL)",
        (live, live),
    )


def test_bad_rows_are_skipped_or_clamped_logged_once_and_never_fail_a_run(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    world = seed(pg)
    bad_rows(pg, world)
    daemon = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false", ENABLE_PROACTIVE_MESSAGES="true")
    results = {}
    for job in JOBS:
        reply = daemon.trigger(job)
        assert (reply.status, reply.body["status"]) == (200, "succeeded"), reply.body
        results[job] = reply.body
    assert daemon.stop() == 0
    output = daemon.output()
    effects = database_effects(pg)
    assert effects["active_expired_users"] == 0  # 'lonely-gone' too, session or not
    assert effects["active_expired_badges"] == 0  # 'Odd' too
    assert one(pg, "SELECT is_active FROM badges WHERE type = 'FOREVER'") is True
    assert effects["live_expired_pokes"] == 0
    # calculateBadges: the unknown zones are named once; their users still get Social Butterfly
    assert "unknown time zone" in results["calculateBadges"]["message"]
    assert output.count("bad_cafe_timezone") == 1
    assert effects["butterflies"] == 2 + 2
    # aggregateAnalytics: the inverted session counts for nothing, and is reported once
    assert one(pg, "SELECT min(average_session_duration) FROM analytics") >= 0
    assert output.count("bad_sessions") == 1
    assert "1 session ending before it starts" in results["aggregateAnalytics"]["message"]
    # proactiveMessages: the good cafés got their message, the bad-zone ones are skipped, once
    assert results["proactiveMessages"]["affected_records"] == len(world.cafes)
    assert output.count("proactive_bad_timezone") == 2  # one line per zone name
    assert "2 unknown time zone" in results["proactiveMessages"]["message"]
    assert "Traceback" not in output
