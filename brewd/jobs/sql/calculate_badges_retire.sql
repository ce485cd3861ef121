-- calculateBadges, step 0: badges of the awarded types that are past their expiry but still
-- flagged active (expireBadges has not run yet, or failed) no longer count as held, so a user
-- who qualifies again is not blocked by the one-active-badge index. Same rule as expireBadges.
-- Noted in the run's temporary table badge_changes, like the awards.
WITH retired AS (
    UPDATE badges
    SET is_active = false, updated_at = now()
    WHERE is_active
      AND expires_at IS NOT NULL
      AND expires_at <= %(now)s::timestamptz
      AND type = ANY (%(types)s::text[])
    RETURNING user_id, type
)
INSERT INTO pg_temp.badge_changes (user_id, type, retired)
SELECT user_id, type, true FROM retired
