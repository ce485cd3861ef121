-- expirePokes, one batch: mark at most %(batch)s live pokes past their expiry as expired at the
-- run's time (soft: Social Butterfly still counts them); one row back per poke, naming both sides.
-- The pick walks pokes_live_expires_at_idx (partial: expired_at IS NULL); the update fetches
-- the picked rows by key (see expire_users.sql for why an array, and why the
-- condition is repeated).
UPDATE pokes
SET expired_at = %(now)s
WHERE ctid = ANY (ARRAY(
    SELECT ctid
    FROM pokes
    WHERE expired_at IS NULL AND expires_at <= %(now)s
    ORDER BY expires_at
    LIMIT %(batch)s
))
  AND expired_at IS NULL AND expires_at <= %(now)s
RETURNING from_user_id, to_user_id
