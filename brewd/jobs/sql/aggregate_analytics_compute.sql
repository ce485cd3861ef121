-- aggregateAnalytics, step 1: the analytics rows of every active café for each closed UTC hour h
-- in [%(start)s, %(end)s), zeros included (SPEC §4), computed in one read-only statement so that
-- every session, message and poke of the window and every user is read once, however many
-- cafés there are; numbered by n for the upsert batches (step 2, aggregate_analytics.sql).
-- date_trunc(..., 'UTC'): hours are UTC whatever the connection's TimeZone setting.
WITH hours AS (
    SELECT g.h
    FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                         interval '1 hour') AS g (h)
),
cafe AS (
    -- inactive cafés keep their history and get no new rows
    SELECT id AS cafe_id FROM cafes WHERE is_active
),
-- Every row the metrics read, in one stream, so that users is joined once: sessions that
-- overlap the window or ended in it, messages written and pokes sent in it. Each arm has its
-- own index (ended_at, the open-session partial index, created_at). Times are read through
-- ::timestamptz (a no-op on brewd's schema; on an adopted database's naive columns, the
-- instant in the session's TimeZone, the legacy zone); WHERE compares the bare columns with
-- timestamptz values (PostgreSQL converts the same way, and the indexes still apply).
raw AS (
    SELECT s.user_id, 'session' AS kind, s.started_at::timestamptz AS at,
           s.ended_at::timestamptz AS ended_at
    FROM user_sessions AS s
    WHERE s.ended_at >= %(start)s::timestamptz
      AND (s.started_at < %(end)s::timestamptz OR s.ended_at < %(end)s::timestamptz)
    UNION ALL
    SELECT s.user_id, 'session', s.started_at::timestamptz, NULL
    FROM user_sessions AS s
    WHERE s.ended_at IS NULL AND s.started_at < %(end)s::timestamptz
    UNION ALL
    SELECT m.user_id, 'message', m.created_at::timestamptz, NULL
    FROM messages AS m
    WHERE m.created_at >= %(start)s::timestamptz AND m.created_at < %(end)s::timestamptz
    UNION ALL
    SELECT p.from_user_id, 'poke', p.created_at::timestamptz, NULL
    FROM pokes AS p
    WHERE p.created_at >= %(start)s::timestamptz AND p.created_at < %(end)s::timestamptz
),
-- ... of the active cafés (hash joins: every row of the window is read once).
mine AS (
    SELECT u.cafe_id, r.user_id, r.kind, r.at, r.ended_at
    FROM raw AS r
    JOIN users AS u ON u.id = r.user_id
    JOIN cafe AS c ON c.cafe_id = u.cafe_id
),
-- Sessions, one row per hour of the window they overlap. Open sessions are ongoing; an empty
-- (or inverted) session overlaps nothing.
piece AS (
    SELECT m.cafe_id, m.user_id, m.at AS started_at, m.ended_at, g.h
    FROM mine AS m
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', greatest(m.at, %(start)s::timestamptz), 'UTC'),
        -- least() skips NULL: an open session runs to the end of the window
        least(m.ended_at, %(end)s::timestamptz) - interval '1 microsecond',
        interval '1 hour') AS g (h)
    WHERE m.kind = 'session'
      AND m.at < %(end)s::timestamptz
      AND (m.ended_at IS NULL OR (m.ended_at > %(start)s::timestamptz AND m.ended_at > m.at))
),
-- Peak concurrency, exactly: a sweep over +1 at each start (at h for sessions already open)
-- and -1 at each end inside the hour; at equal times ends come first, so a session ending at
-- t and another starting at t are never counted together.
event AS (
    SELECT cafe_id, h, greatest(started_at, h) AS at, 1 AS delta FROM piece
    UNION ALL
    SELECT cafe_id, h, ended_at, -1 FROM piece WHERE ended_at < h + interval '1 hour'
),
peak AS (
    SELECT cafe_id, h, max(open_now) AS peak_concurrent_users
    FROM (
        SELECT cafe_id, h, sum(delta) OVER (PARTITION BY cafe_id, h ORDER BY at, delta) AS open_now
        FROM event
    ) AS sweep
    GROUP BY cafe_id, h
),
activity AS (
    SELECT cafe_id, h, count(DISTINCT user_id) AS active_users,
           count(*) FILTER (WHERE kind = 'message') AS total_messages,
           count(*) FILTER (WHERE kind = 'poke') AS total_pokes
    FROM (
        SELECT cafe_id, h, user_id, 'session' AS kind FROM piece
        UNION ALL
        SELECT cafe_id, date_trunc('hour', at, 'UTC'), user_id, kind
        FROM mine WHERE kind IN ('message', 'poke')
    ) AS anything
    GROUP BY cafe_id, h
),
ended AS (
    SELECT cafe_id, date_trunc('hour', ended_at, 'UTC') AS h,
           avg(extract(epoch FROM ended_at - at))::float8 AS average_session_duration
    FROM mine
    WHERE kind = 'session'
      AND ended_at >= %(start)s::timestamptz AND ended_at < %(end)s::timestamptz
      -- a session that ends before it starts (a bad row) has no duration: it is left out
      AND ended_at >= at
    GROUP BY 1, 2
),
-- Users present at some point of hour h: created_at < h+1 and expires_at > h. Bucketed first
-- by (creation hour, last hour present), clamped to the window, so that each user is read once
-- and only the buckets meet the hours: trunc(created_at) <= h and trunc(expires_at - 1 us) >= h.
population AS (
    SELECT b.cafe_id, hours.h, sum(b.n) AS total_users
    FROM (
        SELECT u.cafe_id,
               greatest(date_trunc('hour', u.created_at::timestamptz, 'UTC'),
                        %(start)s::timestamptz) AS c,
               least(date_trunc('hour', u.expires_at::timestamptz - interval '1 microsecond',
                                'UTC'),
                     %(end)s::timestamptz) AS e,
               count(*) AS n
        FROM users AS u
        JOIN cafe ON cafe.cafe_id = u.cafe_id
        WHERE u.created_at < %(end)s::timestamptz AND u.expires_at > %(start)s::timestamptz
        GROUP BY 1, 2, 3
    ) AS b
    JOIN hours ON b.c <= hours.h AND b.e >= hours.h
    GROUP BY 1, 2
),
computed AS (
    SELECT c.cafe_id, hours.h,
           (hours.h AT TIME ZONE 'UTC')::date AS date,
           extract(hour FROM hours.h AT TIME ZONE 'UTC')::int AS hour,
           coalesce(pop.total_users, 0)::int AS total_users,
           coalesce(act.active_users, 0)::int AS active_users,
           coalesce(act.total_pokes, 0)::int AS total_pokes,
           coalesce(act.total_messages, 0)::int AS total_messages,
           coalesce(e.average_session_duration, 0)::float8 AS average_session_duration,
           coalesce(pk.peak_concurrent_users, 0)::int AS peak_concurrent_users
    FROM cafe AS c
    CROSS JOIN hours
    LEFT JOIN population AS pop ON pop.cafe_id = c.cafe_id AND pop.h = hours.h
    LEFT JOIN activity AS act ON act.cafe_id = c.cafe_id AND act.h = hours.h
    LEFT JOIN ended AS e ON e.cafe_id = c.cafe_id AND e.h = hours.h
    LEFT JOIN peak AS pk ON pk.cafe_id = c.cafe_id AND pk.h = hours.h
)
SELECT row_number() OVER (ORDER BY cafe_id, h) AS n, *
FROM computed
