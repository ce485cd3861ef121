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
-- Sessions that overlap the window. Open sessions are ongoing; an empty (or inverted) session
-- overlaps nothing. Two arms so that each uses its own index.
touching AS (
    SELECT s.user_id, s.started_at, s.ended_at
    FROM user_sessions AS s
    WHERE s.ended_at > %(start)s::timestamptz
      AND s.ended_at > s.started_at
      AND s.started_at < %(end)s::timestamptz
    UNION ALL
    SELECT s.user_id, s.started_at, s.ended_at
    FROM user_sessions AS s
    WHERE s.ended_at IS NULL AND s.started_at < %(end)s::timestamptz
),
-- ... of the batch's cafés, one row per hour of the window they overlap.
piece AS (
    SELECT u.cafe_id, t.user_id, t.started_at, t.ended_at, g.h
    FROM touching AS t
    JOIN users AS u ON u.id = t.user_id
    CROSS JOIN LATERAL generate_series(
        date_trunc('hour', greatest(t.started_at, %(start)s::timestamptz), 'UTC'),
        -- least() skips NULL: an open session runs to the end of the window
        least(t.ended_at, %(end)s::timestamptz) - interval '1 microsecond',
        interval '1 hour') AS g (h)
    WHERE u.cafe_id = ANY (%(cafe_ids)s::uuid[])
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
-- Messages written and pokes sent in the window by the batch's cafés' users, by hour.
said AS (
    SELECT u.cafe_id, date_trunc('hour', m.created_at, 'UTC') AS h, m.user_id,
           1 AS message, 0 AS poke
    FROM messages AS m
    JOIN users AS u ON u.id = m.user_id
    WHERE m.created_at >= %(start)s::timestamptz AND m.created_at < %(end)s::timestamptz
      AND u.cafe_id = ANY (%(cafe_ids)s::uuid[])
    UNION ALL
    SELECT u.cafe_id, date_trunc('hour', p.created_at, 'UTC'), p.from_user_id, 0, 1
    FROM pokes AS p
    JOIN users AS u ON u.id = p.from_user_id
    WHERE p.created_at >= %(start)s::timestamptz AND p.created_at < %(end)s::timestamptz
      AND u.cafe_id = ANY (%(cafe_ids)s::uuid[])
),
activity AS (
    SELECT cafe_id, h, count(DISTINCT user_id) AS active_users,
           sum(message) AS total_messages, sum(poke) AS total_pokes
    FROM (
        SELECT cafe_id, h, user_id, 0 AS message, 0 AS poke FROM piece
        UNION ALL
        SELECT cafe_id, h, user_id, message, poke FROM said
    ) AS anything
    GROUP BY cafe_id, h
),
ended AS (
    SELECT u.cafe_id, date_trunc('hour', s.ended_at, 'UTC') AS h,
           avg(extract(epoch FROM s.ended_at - s.started_at))::float8 AS average_session_duration
    FROM user_sessions AS s
    JOIN users AS u ON u.id = s.user_id
    WHERE s.ended_at >= %(start)s::timestamptz AND s.ended_at < %(end)s::timestamptz
      AND u.cafe_id = ANY (%(cafe_ids)s::uuid[])
    GROUP BY 1, 2
),
population AS (
    SELECT u.cafe_id, hours.h, count(*) AS total_users
    FROM users AS u
    JOIN hours ON u.created_at < hours.h + interval '1 hour' AND u.expires_at > hours.h
    WHERE u.cafe_id = ANY (%(cafe_ids)s::uuid[])
      AND u.created_at < %(end)s::timestamptz AND u.expires_at > %(start)s::timestamptz
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
    -- A correct row is left alone: updated_at only moves when a value really changes.
    WHERE (a.total_users, a.active_users, a.total_pokes, a.total_messages,
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
