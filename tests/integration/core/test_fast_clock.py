"""A node whose wall clock runs ahead of the database's (found by the chaos run: a clock
stepped +45 s) must not expire anything before its time: a job's `now` is never ahead of the
database's clock, the one the API servers stamp expires_at with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

from brewd.jobs import ALL_JOBS
from brewd.loop.scheduler import Scheduler
from tests.helpers import one

AHEAD = timedelta(minutes=2)


def test_a_node_two_minutes_fast_expires_only_what_is_due_by_the_database_clock(
    make_scheduler: Callable[..., Scheduler], pg: psycopg.Connection[dict[str, Any]]
) -> None:
    cafe = one(pg.execute("INSERT INTO cafes (name) VALUES ('Fast') RETURNING id"))["id"]
    pg.execute(
        "INSERT INTO users (username, cafe_id, expires_at) VALUES"
        " ('due', %(c)s, now() - interval '1 minute'),"
        " ('not yet', %(c)s, now() + interval '1 minute')",
        {"c": cafe},
    )
    database_now = one(pg.execute("SELECT now() AS t"))["t"]
    s = make_scheduler({"expireUsers": ALL_JOBS["expireUsers"]}, now=database_now + AHEAD)
    record = s.runner.trigger("expireUsers", "tester").future.result(timeout=30)
    assert record.status == "succeeded", record
    active = pg.execute("SELECT username, is_active FROM users ORDER BY username").fetchall()
    assert active == [
        {"username": "due", "is_active": False},
        {"username": "not yet", "is_active": True},
    ]
