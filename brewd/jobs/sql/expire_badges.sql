-- expireBadges, one batch: deactivate at most %(batch)s badges whose expiry has passed
-- (badges with no expiry never expire); one row back per badge, naming its user.
-- The pick walks badges_live_expires_at_idx (partial: is_active AND expires_at IS NOT NULL).
WITH picked AS (
    SELECT id
    FROM badges
    WHERE is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s
    ORDER BY expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE badges AS b
SET is_active = false, updated_at = now()
FROM picked
WHERE b.id = picked.id
RETURNING b.user_id
