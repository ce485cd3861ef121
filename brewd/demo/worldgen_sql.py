"""The SQL of the world generator: set-based INSERT ... SELECT over generate_series, one per table.

Every random choice is `pg_temp.r(row, salt)`, a hash of the row number and the seed, so a
world depends only on (users, cafés, now, seed): no row order, plan or parallelism can change
it. Rows go in in time order, as the API servers append them, so that the heap is laid out
like a real table's (rows that expire together share pages). Parameters: %(now)s, %(users)s,
%(cafes)s, and the arrays named in each statement.
"""

from __future__ import annotations

# The helpers get the seed and the sizes baked in (psycopg.sql literals) so that the
# statements below stay readable. r(): uniform in [0, 1). uid(): a stable uuid per (kind,
# row). peer(): another user of the same café (users are dealt to cafés round-robin), NULL
# in a café of one. Each body is a single expression, so PostgreSQL inlines it.
HELPERS = """
CREATE FUNCTION pg_temp.r(i bigint, salt integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(i, {seed} * 1000 + salt) & 4503599627370495)::double precision
           / 4503599627370496
$$;
CREATE FUNCTION pg_temp.uid(kind text, i bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT md5({seed_text} || kind || i::text)::uuid $$;
CREATE FUNCTION pg_temp.peer(i bigint, x double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN i % {cafes} + {cafes} < {users} THEN
        i % {cafes} + {cafes} * ((i / {cafes} + 1
                                  + floor(({users} - 1 - i % {cafes}) / {cafes} * x)::bigint)
                                 % (({users} - 1 - i % {cafes}) / {cafes} + 1))
    END
$$;
"""

DROP_HELPERS = """
DROP TABLE IF EXISTS pg_temp.world_users;
DROP FUNCTION IF EXISTS pg_temp.r(bigint, integer);
DROP FUNCTION IF EXISTS pg_temp.uid(text, bigint);
DROP FUNCTION IF EXISTS pg_temp.peer(bigint, double precision)
"""

# A café's zone, city and flags follow its number: zones rotate; every third café has the AI
# host on; every 25th café is closed (is_active false) so jobs must skip it.
CAFES = """
INSERT INTO cafes (id, name, location, timezone, enable_proactive_messages, is_active,
                   created_at, updated_at)
SELECT pg_temp.uid('c', c),
       format('%%s %%s #%%s', (%(cities)s::text[])[z], (%(words)s::text[])[1 + c %% 7], c),
       (%(cities)s::text[])[z], (%(zones)s::text[])[z], c %% 3 = 0, c %% 25 <> 24,
       %(now)s - interval '400 days', %(now)s - interval '400 days'
FROM generate_series(0, %(cafes)s - 1) AS c,
     LATERAL (SELECT 1 + c %% cardinality(%(zones)s::text[]) AS z) AS zone
"""

# Users, kept in a temporary table with their row number for the other statements to join:
# 10% expired long ago (already inactive), 3% expired in the last 6 hours but still active
# (expireUsers' backlog), the rest live for up to 30 more days.
WORLD_USERS = """
CREATE TEMP TABLE world_users AS
SELECT i, pg_temp.uid('u', i) AS id, i %% %(cafes)s AS cafe_i, created_at,
       CASE WHEN kind < 0.10 THEN created_at + (%(now)s - created_at) * x
            WHEN kind < 0.13 THEN greatest(created_at, %(now)s - interval '6 hours' * x)
            ELSE %(now)s + interval '1 hour' + interval '30 days' * x END AS expires_at,
       kind >= 0.10 AS is_active
FROM generate_series(0, %(users)s - 1) AS i,
     LATERAL (SELECT %(now)s - interval '30 days' * pg_temp.r(i, 1) AS created_at,
                     pg_temp.r(i, 2) AS kind, pg_temp.r(i, 3) AS x) AS pick
"""

WORLD_USERS_KEY = "ALTER TABLE world_users ADD PRIMARY KEY (i); ANALYZE world_users"

USERS = """
INSERT INTO users (id, username, cafe_id, expires_at, is_active, created_at, updated_at)
SELECT id, format('%%s_%%s_%%s', (%(words)s::text[])[1 + i %% 7],
                  (%(animals)s::text[])[1 + (i / 7) %% 9], i),
       pg_temp.uid('c', cafe_i), expires_at, is_active, created_at,
       CASE WHEN is_active THEN created_at ELSE expires_at END
FROM world_users
ORDER BY created_at
"""

# Past sessions: three a user on average (Poisson-spread, so some users visit on five or
# more days), at any hour of the day, inside the user's lifetime and the last 30 days.
SESSIONS = """
INSERT INTO user_sessions (id, user_id, started_at, ended_at, created_at)
SELECT pg_temp.uid('s', s), u.id, t.started_at,
       least(t.started_at + interval '5 minutes' + interval '3 hours' * pg_temp.r(s, 12) ^ 2,
             least(u.expires_at, %(now)s)),
       t.started_at
FROM generate_series(0, 3 * %(users)s - 1) AS s
JOIN world_users AS u ON u.i = floor(pg_temp.r(s, 10) * %(users)s)::bigint,
     LATERAL (SELECT u.created_at + (least(u.expires_at, %(now)s) - u.created_at)
                     * pg_temp.r(s, 11) AS started_at) AS t
ORDER BY t.started_at
"""

# Who is in the café now: 15% of live users, and half the users whose expiry has just passed
# (expireUsers closes those); one in twenty of the latter came in after their expiry.
OPEN_SESSIONS = """
INSERT INTO user_sessions (id, user_id, started_at, ended_at, created_at)
SELECT pg_temp.uid('o', i), id, started_at, NULL, started_at
FROM world_users,
     LATERAL (SELECT CASE
                 WHEN expires_at > %(now)s THEN %(now)s - interval '2 hours' * pg_temp.r(i, 21)
                 WHEN pg_temp.r(i, 22) < 0.05
                     THEN least(%(now)s, expires_at + interval '10 minutes' * pg_temp.r(i, 21))
                 ELSE expires_at - interval '2 hours' * pg_temp.r(i, 21)
              END AS started_at) AS t
WHERE is_active
  AND pg_temp.r(i, 20) < CASE WHEN expires_at > %(now)s THEN 0.15 ELSE 0.5 END
"""

# Pokes between users of one café, two a user over the last 9.5 days, each live for a day:
# those past expiry by more than 6 hours were already expired by the job (and the oldest are
# past the 8-day retention); the last 6 hours' are expirePokes' backlog. 1% of live users are
# social butterflies with 12 more pokes in the last 7 days.
POKES = """
INSERT INTO pokes (id, from_user_id, to_user_id, message, expires_at, expired_at, is_read,
                   created_at)
SELECT pg_temp.uid('p', k), f.id, pg_temp.uid('u', pg_temp.peer(f.i, pg_temp.r(k, 32))),
       (%(pokes)s::text[])[1 + floor(pg_temp.r(k, 34) * cardinality(%(pokes)s::text[]))],
       src.created_at + interval '1 day',
       CASE WHEN src.created_at + interval '1 day' > %(now)s - interval '6 hours' THEN NULL
            ELSE src.created_at + interval '1 day' + interval '5 minutes' * pg_temp.r(k, 33)
       END,
       pg_temp.r(k, 35) < 0.6, src.created_at
FROM (SELECT k, floor(pg_temp.r(k, 30) * %(users)s)::bigint AS from_i,
             %(now)s - interval '9.5 days' * pg_temp.r(k, 31) AS created_at
      FROM generate_series(0, 2 * %(users)s - 1) AS k
      UNION ALL
      SELECT 2 * %(users)s + u.i * 12 + n, u.i,
             %(now)s - interval '7 days' * pg_temp.r(2 * %(users)s + u.i * 12 + n, 31)
      FROM world_users AS u, generate_series(0, 11) AS n
      WHERE u.is_active AND u.expires_at > %(now)s AND pg_temp.r(u.i, 40) < 0.01) AS src
JOIN world_users AS f ON f.i = src.from_i
WHERE src.created_at BETWEEN f.created_at AND least(f.expires_at, %(now)s)
  AND pg_temp.peer(f.i, 0) IS NOT NULL
ORDER BY src.created_at
"""

MESSAGES = """
INSERT INTO messages (id, user_id, content, message_type, created_at)
SELECT pg_temp.uid('m', m), u.id,
       (%(chat)s::text[])[1 + floor(pg_temp.r(m, 51) * cardinality(%(chat)s::text[]))],
       'USER',
       u.created_at + (least(u.expires_at, %(now)s) - u.created_at) * pg_temp.r(m, 52)
FROM generate_series(0, %(messages_per_user)s::bigint * %(users)s - 1) AS m
JOIN world_users AS u ON u.i = floor(pg_temp.r(m, 50) * %(users)s)::bigint
ORDER BY 5
"""

# 5% of live users hold a badge: 10% never expire, 30% expired in the last 2 days but are
# still active (expireBadges' backlog), the rest expire within their type's lifetime.
BADGES = """
INSERT INTO badges (id, user_id, type, name, description, expires_at, is_active, created_at,
                    updated_at)
SELECT pg_temp.uid('g', u.i), u.id, kind.type, kind.name, kind.name || ' badge',
       CASE WHEN x < 0.1 THEN NULL
            WHEN x < 0.4 THEN %(now)s - interval '2 days' * pg_temp.r(u.i, 63)
            ELSE %(now)s + kind.days * interval '1 day' * pg_temp.r(u.i, 63) END,
       true, %(now)s - interval '3 days', %(now)s - interval '3 days'
FROM world_users AS u,
     LATERAL (SELECT pg_temp.r(u.i, 62) AS x,
                     1 + floor(pg_temp.r(u.i, 61) * 4)::int AS t) AS pick,
     LATERAL (VALUES ((ARRAY['EARLY_BIRD', 'NIGHT_OWL', 'SOCIAL_BUTTERFLY',
                             'FREQUENT_VISITOR'])[t],
                      (ARRAY['Early Bird', 'Night Owl', 'Social Butterfly',
                             'Frequent Visitor'])[t],
                      (ARRAY[7, 7, 30, 60])[t])) AS kind (type, name, days)
WHERE u.is_active AND u.expires_at > %(now)s AND pg_temp.r(u.i, 60) < 0.05
"""

# The AI host spoke in every enabled café two hours ago: old enough for the rate limits.
AGENT_MESSAGES = """
INSERT INTO agent_messages (id, cafe_id, message_type, content, context_data, created_at)
SELECT pg_temp.uid('a', c), pg_temp.uid('c', c), 'PROACTIVE',
       'Good to see so many of you here today. Say hello to someone new!',
       '{"trigger": "crowd", "source": "template"}'::jsonb, %(now)s - interval '2 hours'
FROM generate_series(0, %(cafes)s - 1) AS c
WHERE c %% 3 = 0
"""

SECONDARY_INDEXES = """
SELECT index.relname AS name, pg_get_indexdef(index.oid) AS definition
FROM pg_index AS i
JOIN pg_class AS index ON index.oid = i.indexrelid
JOIN pg_class AS tab ON tab.oid = i.indrelid
WHERE tab.relname = ANY (%(tables)s::text[])
  AND tab.relnamespace = to_regnamespace(current_schema())
  AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
ORDER BY tab.relname, index.relname
"""

STATS = """
SELECT (SELECT count(*) FROM cafes) AS cafes,
       (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM user_sessions) AS sessions,
       (SELECT count(*) FROM pokes) AS pokes,
       (SELECT count(*) FROM messages) AS messages,
       (SELECT count(*) FROM badges) AS badges,
       (SELECT count(*) FROM user_sessions WHERE ended_at IS NULL) AS open_sessions,
       (SELECT count(*) FROM users WHERE is_active AND expires_at <= %(now)s) AS users_due,
       (SELECT count(*) FROM badges
        WHERE is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s) AS badges_due,
       (SELECT count(*) FROM pokes
        WHERE expired_at IS NULL AND expires_at <= %(now)s) AS pokes_due,
       (SELECT count(*) FROM pokes
        WHERE expired_at IS NOT NULL AND expired_at < %(now)s - interval '8 days')
           AS pokes_purgeable
"""
