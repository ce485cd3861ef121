-- The analytics rows as SPEC §4 defines them, recomputed from the raw tables for every row
-- brewd wrote (written for the chaos run independently of brewd's own SQL).
WITH rows AS (
    SELECT a.id, a.cafe_id, a.date, a.hour,
           (a.date::timestamp + make_interval(hours => a.hour)) AT TIME ZONE 'UTC' AS h0
    FROM analytics a
),
hours AS (SELECT *, h0 + interval '1 hour' AS h1 FROM rows)
SELECT h.id, h.cafe_id, h.date, h.hour,
    (SELECT count(*) FROM users u
      WHERE u.cafe_id = h.cafe_id AND u.created_at < h.h1 AND u.expires_at > h.h0) AS total_users,
    (SELECT count(DISTINCT who) FROM (
        SELECT s.user_id AS who FROM user_sessions s JOIN users u ON u.id = s.user_id
         WHERE u.cafe_id = h.cafe_id AND s.started_at < h.h1
           AND (s.ended_at IS NULL OR s.ended_at > h.h0)
        UNION ALL
        SELECT m.user_id FROM messages m JOIN users u ON u.id = m.user_id
         WHERE u.cafe_id = h.cafe_id AND m.created_at >= h.h0 AND m.created_at < h.h1
        UNION ALL
        SELECT p.from_user_id FROM pokes p JOIN users u ON u.id = p.from_user_id
         WHERE u.cafe_id = h.cafe_id AND p.created_at >= h.h0 AND p.created_at < h.h1
    ) AS active) AS active_users,
    (SELECT count(*) FROM pokes p JOIN users u ON u.id = p.from_user_id
      WHERE u.cafe_id = h.cafe_id AND p.created_at >= h.h0 AND p.created_at < h.h1) AS total_pokes,
    (SELECT count(*) FROM messages m JOIN users u ON u.id = m.user_id
      WHERE u.cafe_id = h.cafe_id AND m.created_at >= h.h0 AND m.created_at < h.h1)
      AS total_messages,
    (SELECT coalesce(avg(extract(epoch FROM s.ended_at - s.started_at)), 0)::float8
       FROM user_sessions s JOIN users u ON u.id = s.user_id
      WHERE u.cafe_id = h.cafe_id AND s.ended_at >= h.h0 AND s.ended_at < h.h1)
      AS average_session_duration,
    -- open sessions counted at the hour's start and at every start inside the hour: the
    -- count only rises at a start, so its maximum is reached at one of these instants
    (SELECT coalesce(max((SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id
                           WHERE u.cafe_id = h.cafe_id AND s.started_at <= t.at
                             AND (s.ended_at IS NULL OR s.ended_at > t.at))), 0)
       FROM (SELECT h.h0 AS at
             UNION
             SELECT s.started_at FROM user_sessions s JOIN users u ON u.id = s.user_id
              WHERE u.cafe_id = h.cafe_id AND s.started_at > h.h0 AND s.started_at < h.h1) t)
      AS peak_concurrent_users
FROM hours h
ORDER BY h.cafe_id, h.date, h.hour
