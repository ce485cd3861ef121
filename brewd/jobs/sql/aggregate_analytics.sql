-- aggregateAnalytics, one batch: the analytics rows of the cafés %(cafe_ids)s for each closed
-- UTC hour h in [%(start)s, %(end)s), computed and upserted in one statement (SPEC §4), zeros
-- included. Returns every row of the batch (the cache gets them all, which repairs it) and
-- whether the upsert inserted it, updated it, or left it alone because it was already right.
-- date_trunc(..., 'UTC'): hours are UTC whatever the connection's TimeZone setting.
WITH hours AS (
    SELECT g.h
    FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 hour',
                         interval '1 hour') AS g (h)
),
cafe AS (
    SELECT id AS cafe_id FROM cafes WHERE id = ANY (%(cafe_ids)s::uuid[]) AND is_active
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
-- ... of the batch's cafés (a hash join on the café list, never a per-row array search).
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
),
written AS (
    INSERT INTO analytics AS a (cafe_id, date, hour, total_users, active_users, total_pokes,
                                total_messages, average_session_duration, peak_concurrent_users)
    SELECT cafe_id, date, hour, total_users, active_users, total_pokes, total_messages,
           average_session_duration, peak_concurrent_users
    FROM computed
    ON CONFLICT (cafe_id, date, hour) DO UPDATE
    SET total_users = excluded.total_users,
        active_users = excluded.active_users,
        total_pokes = excluded.total_pokes,
        total_messages = excluded.total_messages,
        average_session_duration = excluded.average_session_duration,
        peak_concurrent_users = excluded.peak_concurrent_users,
        updated_at = now()
    -- A correct row is left alone: updated_at only moves when a value really changes. A row
    -- the original scheduler wrote (adopted database) is never overwritten: its date and hour
    -- are the original's local ones and its figures are defined differently.
    WHERE NOT a.from_original
      AND (a.total_users, a.active_users, a.total_pokes, a.total_messages,
           a.average_session_duration, a.peak_concurrent_users)
          IS DISTINCT FROM
          (excluded.total_users, excluded.active_users, excluded.total_pokes,
           excluded.total_messages, excluded.average_session_duration,
           excluded.peak_concurrent_users)
    -- xmax is 0 on a freshly inserted row version, the locker's xid on an updated one.
    RETURNING a.cafe_id, a.date, a.hour, a.xmax::text = '0' AS inserted
)
SELECT c.cafe_id, c.h, c.total_users, c.active_users, c.total_pokes, c.total_messages,
       c.average_session_duration, c.peak_concurrent_users,
       CASE WHEN w.inserted THEN 'inserted' WHEN w.cafe_id IS NOT NULL THEN 'updated'
            ELSE 'unchanged' END AS outcome
FROM computed AS c
LEFT JOIN written AS w ON w.cafe_id = c.cafe_id AND w.date = c.date AND w.hour = c.hour
