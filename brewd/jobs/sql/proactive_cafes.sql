-- proactiveMessages: every eligible café with its aggregates at %(now)s.
-- Active users: live users (is_active, not yet past expires_at) with a session open at now,
-- sessions being open on [started_at, ended_at). Recent: sent / written in (now - 30 min, now].
-- Aggregates only: no username or message content is ever read.
SELECT c.id,
       c.name,
       c.timezone,
       (SELECT count(DISTINCT u.id)
          FROM users u
          JOIN user_sessions s ON s.user_id = u.id
         WHERE u.cafe_id = c.id
           AND u.is_active
           AND u.expires_at > %(now)s
           AND s.started_at <= %(now)s
           AND (s.ended_at IS NULL OR s.ended_at > %(now)s)) AS active_users,
       (SELECT count(*)
          FROM pokes p
          JOIN users u ON u.id = p.from_user_id
         WHERE u.cafe_id = c.id
           AND p.created_at > %(since)s
           AND p.created_at <= %(now)s) AS recent_pokes,
       (SELECT count(*)
          FROM messages m
          JOIN users u ON u.id = m.user_id
         WHERE u.cafe_id = c.id
           AND m.created_at > %(since)s
           AND m.created_at <= %(now)s) AS recent_messages
  FROM cafes c
 WHERE c.is_active
   AND c.enable_proactive_messages
 ORDER BY c.id
