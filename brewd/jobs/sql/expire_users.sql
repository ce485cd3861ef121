-- expireUsers, one batch: deactivate at most %(batch)s users whose expiry has passed and close
-- their open sessions at the user's expires_at; one row back per user expired.
-- The pick walks users_live_expires_at_idx (partial: is_active) oldest expiry first and stops
-- at the limit, so the cost follows the rows expired, not the size of the table. SKIP LOCKED
-- leaves a row an API server is writing to the next batch or run instead of waiting for it.
WITH picked AS (
    SELECT id
    FROM users
    WHERE is_active AND expires_at <= %(now)s
    ORDER BY expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
),
expired AS (
    UPDATE users AS u
    SET is_active = false, updated_at = now()
    FROM picked
    WHERE u.id = picked.id
    RETURNING u.id, u.cafe_id, u.username, u.expires_at
),
-- Open sessions are found through user_sessions_open_user_idx (partial: ended_at IS NULL).
-- A session that started after its user's expiry (an API server let it in late) is closed at
-- its own start, an empty interval, so that ended_at >= started_at always holds.
closed AS (
    UPDATE user_sessions AS s
    SET ended_at = greatest(expired.expires_at, s.started_at)
    FROM expired
    WHERE s.user_id = expired.id AND s.ended_at IS NULL
    RETURNING s.id
)
SELECT expired.id, expired.cafe_id, expired.username,
       (SELECT count(*) FROM closed) AS sessions_closed
FROM expired
