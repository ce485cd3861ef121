"""What the API servers do, at a steady rate: users join (expiring within minutes), sessions
open and close, pokes (short expiry), messages, badges read through the cache. Plus a seed:
cafés with a few long-lived regulars and three hours of history for the analytics."""

from __future__ import annotations

import json
import random
import threading
from typing import Any
from uuid import UUID

import psycopg
import redis

from tests.chaos.servers import connect

CAFES = (("Café Nord", "Europe/Paris"), ("Café Sud", "Asia/Tokyo"), ("Café Est", "UTC"))
BADGE_CACHE_TTL_S = 20  # the writer's cache-aside copy of a user's badges


def seed(dsn: str, minutes: float) -> list[UUID]:
    """Cafés, three regulars each in an open session (so the café host has company),
    backdated sessions, pokes and messages over the last three hours, and badges falling due
    all through the run."""
    cafes: list[UUID] = []
    with connect(dsn) as conn:
        for name, tz in CAFES:
            cafe = conn.execute(
                "INSERT INTO cafes (name, location, timezone, enable_proactive_messages)"
                " VALUES (%s, %s, %s, true) RETURNING id",
                (name, name, tz),
            ).fetchone()["id"]  # type: ignore[index]
            cafes.append(UUID(str(cafe)))
            for n in range(3):
                user = conn.execute(
                    "INSERT INTO users (username, cafe_id, created_at, expires_at) VALUES"
                    " (%s, %s, now() - interval '4 hours', now() + interval '1 day') RETURNING id",
                    (f"regular{n}", cafe),
                ).fetchone()["id"]  # type: ignore[index]
                conn.execute(
                    "INSERT INTO user_sessions (user_id, started_at) VALUES"
                    " (%s, now() - interval '170 minutes')",
                    (user,),
                )
            conn.execute(_HISTORY, {"cafe": cafe})
            conn.execute(_BADGES, {"cafe": cafe, "step": minutes * 60 / 13})
    return cafes


# Each regular holds the four badge types, the twelve due one after another during the run.
_BADGES = """
INSERT INTO badges (user_id, type, name, description, expires_at)
SELECT u.id, t.type, t.type, 'seeded', now() + make_interval(secs => %(step)s * (1 + row_number()
       OVER (ORDER BY u.username, t.type)))
FROM users u,
     unnest(ARRAY['EARLY_BIRD', 'NIGHT_OWL', 'SOCIAL_BUTTERFLY', 'FREQUENT_VISITOR']) AS t (type)
WHERE u.cafe_id = %(cafe)s
"""


# Per café: closed sessions, messages and expired pokes of its regulars spread over 3 hours.
_HISTORY = """
WITH r AS (SELECT id, row_number() OVER (ORDER BY username) AS n FROM users
           WHERE cafe_id = %(cafe)s),
g AS (SELECT generate_series(1, 18) AS k),
s AS (INSERT INTO user_sessions (user_id, started_at, ended_at)
      SELECT r.id, now() - make_interval(mins => 10 * k + 7 * n::int),
             now() - make_interval(mins => 10 * k + 7 * n::int) + make_interval(mins => k)
      FROM r, g WHERE (k + n) %% 3 = 0 RETURNING 1),
m AS (INSERT INTO messages (user_id, content, created_at)
      SELECT r.id, 'hello ' || k, now() - make_interval(mins => 9 * k + n::int)
      FROM r, g RETURNING 1)
INSERT INTO pokes (from_user_id, to_user_id, message, created_at, expires_at, expired_at)
SELECT a.id, b.id, 'hey', now() - make_interval(mins => 11 * k),
       now() - make_interval(mins => 11 * k - 5), now() - make_interval(mins => 11 * k - 5)
FROM r a JOIN r b ON a.n = b.n %% 3 + 1, g WHERE k %% 2 = 0
"""


class Writer(threading.Thread):
    """One action every `period` seconds until stopped; database errors (a restarting server)
    are counted and the connection re-made, as an API server would."""

    def __init__(self, dsn: str, redis_url: str, cafes: list[UUID], seed: int) -> None:
        super().__init__(daemon=True, name="chaos-writer")
        self.dsn, self.cafes = dsn, cafes
        self.cache = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self.rng = random.Random(seed)
        self.period = 0.4
        self.stopping = threading.Event()
        self.done: dict[str, int] = {}
        self.errors = 0
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._joined = 0

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)

    def run(self) -> None:
        actions = (
            (self.join_user, 3),
            (self.open_session, 3),
            (self.close_session, 2),
            (self.poke, 3),
            (self.message, 3),
            (self.read_badges, 2),
        )
        funcs, weights = zip(*actions, strict=True)
        while not self.stopping.wait(self.period):
            action = self.rng.choices(funcs, weights)[0]
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = connect(self.dsn)
                action(self._conn)
                self.done[action.__name__] = self.done.get(action.__name__, 0) + 1
            except psycopg.Error:
                self.errors += 1
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
        if self._conn is not None:
            self._conn.close()

    def _user(self, conn: psycopg.Connection[dict[str, Any]]) -> dict[str, Any] | None:
        return conn.execute(
            "SELECT id, cafe_id FROM users WHERE is_active AND cafe_id = %s"
            " ORDER BY random() LIMIT 1",
            (self.rng.choice(self.cafes),),
        ).fetchone()

    def join_user(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self._joined += 1
        cafe = self.rng.choice(self.cafes)
        name = f"guest{self._joined}-{self.rng.randrange(10**6)}"
        life = self.rng.randint(20, 150)
        user = conn.execute(
            "INSERT INTO users (username, cafe_id, expires_at)"
            " VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING id",
            (name, cafe, life),
        ).fetchone()
        assert user is not None
        conn.execute("INSERT INTO user_sessions (user_id) VALUES (%s)", (user["id"],))
        self._cache(
            lambda c: (
                c.set(f"user:{user['id']}", json.dumps({"username": name}), ex=3600),
                c.set(f"cafe:{cafe}:username:{name}", str(user["id"]), ex=3600),
                c.sadd(f"cafe:{cafe}:active_users", str(user["id"])),
            )
        )

    def open_session(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        user = self._user(conn)
        if user is not None:
            conn.execute("INSERT INTO user_sessions (user_id) VALUES (%s)", (user["id"],))

    def close_session(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        conn.execute(
            "UPDATE user_sessions SET ended_at = now() WHERE id = (SELECT s.id FROM"
            " user_sessions s JOIN users u ON u.id = s.user_id WHERE s.ended_at IS NULL"
            " AND u.username LIKE 'guest%%' ORDER BY random() LIMIT 1)"
        )

    def poke(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        conn.execute(
            "INSERT INTO pokes (from_user_id, to_user_id, message, expires_at)"
            " SELECT a.id, b.id, 'poke', now() + make_interval(secs => %s)"
            " FROM users a JOIN users b ON a.cafe_id = b.cafe_id AND a.id <> b.id"
            " WHERE a.is_active AND b.is_active AND a.cafe_id = %s ORDER BY random() LIMIT 1",
            (self.rng.randint(10, 90), self.rng.choice(self.cafes)),
        )

    def message(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        user = self._user(conn)
        if user is not None:
            conn.execute(
                "INSERT INTO messages (user_id, content) VALUES (%s, %s)",
                (user["id"], f"message {self.rng.randrange(10**6)}"),
            )

    def read_badges(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        """Cache-aside, as the API servers read a user's badges."""
        user = self._user(conn)
        if user is None:
            return
        key = f"user:{user['id']}:badges"
        if self._cache(lambda c: c.get(key)) is None:
            rows = conn.execute(
                "SELECT type FROM badges WHERE user_id = %s AND is_active ORDER BY type",
                (user["id"],),
            ).fetchall()
            types = json.dumps([r["type"] for r in rows])
            self._cache(lambda c: c.set(key, types, ex=BADGE_CACHE_TTL_S))

    def _cache(self, call: Any) -> Any:
        try:
            return call(self.cache)
        except redis.RedisError:
            return None
