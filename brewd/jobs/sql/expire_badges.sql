-- expireBadges, one batch: deactivate at most %(batch)s badges whose expiry has passed
-- (badges with no expiry never expire); one row back per badge, naming its user.
-- The pick walks badges_live_expires_at_idx (partial: is_active AND expires_at IS NOT NULL)
-- from where the last batch stopped (%(after)s: see drain() in batches.py);
-- the update fetches the picked rows by address (see expire_users.sql for why, and why the
-- condition is repeated).
UPDATE badges
SET is_active = false, updated_at = now()
WHERE ctid = ANY (ARRAY(
    SELECT ctid
    FROM badges
    WHERE is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s
      AND expires_at >= %(after)s
    ORDER BY expires_at
    LIMIT %(batch)s
))
  AND is_active AND expires_at IS NOT NULL AND expires_at <= %(now)s
RETURNING user_id, expires_at
