-- expireUsers, one batch: deactivate at most %(batch)s users whose expiry has passed and close
-- their open sessions at the user's expires_at; one row back per user expired.
-- The pick walks users_live_expires_at_idx (partial: is_active) oldest expiry first, from where
-- the last batch stopped (%(after)s: see drain() in batches.py), and stops at the limit. The
-- picked rows come back as an array of row addresses (ctid) so that the update fetches
-- exactly those heap tuples (a TID scan): joined as a set instead, the planner
-- may hash-join against a whole-table scan, and the cost would follow the table, not the rows
-- expired; by primary key, each row would cost an index descent more. The update repeats the
-- pick's condition: should an API server write a picked row between the pick and the update,
-- PostgreSQL follows it to the newest version and re-checks the condition there, so a user
-- renewed meanwhile is left alone. (No FOR UPDATE: one brewd runs a job at a time, and a lock
-- per row would cost a WAL record per row.)
WITH expired AS (
    UPDATE users
    SET is_active = false, updated_at = now()
    WHERE ctid = ANY (ARRAY(
        SELECT ctid
        FROM users
        WHERE is_active AND expires_at <= %(now)s AND expires_at >= %(after)s
        ORDER BY expires_at
        LIMIT %(batch)s
    ))
      AND is_active AND expires_at <= %(now)s
    RETURNING id, cafe_id, username, expires_at
),
-- Open sessions are found through user_sessions_open_user_idx (partial: ended_at IS NULL);
-- `owner` is read as of the statement's start (expires_at is not changed above). A session
-- that started after its user's expiry (an API server let it in late) is closed at its own
-- start, an empty interval, so that ended_at >= started_at always holds.
closed AS (
    UPDATE user_sessions AS s
    SET ended_at = greatest(owner.expires_at, s.started_at)
    FROM users AS owner
    WHERE s.user_id = ANY (ARRAY(SELECT id FROM expired))
      AND s.ended_at IS NULL
      AND owner.id = s.user_id
    RETURNING s.id
)
SELECT expired.id, expired.cafe_id, expired.username, expired.expires_at,
       (SELECT count(*) FROM closed) AS sessions_closed
FROM expired
