-- expirePokes, one batch: mark at most %(batch)s live pokes past their expiry as expired at the
-- run's time (soft: Social Butterfly still counts them); one row back per poke, naming both sides.
-- The pick walks pokes_live_expires_at_idx (partial: expired_at IS NULL).
WITH picked AS (
    SELECT id
    FROM pokes
    WHERE expired_at IS NULL AND expires_at <= %(now)s
    ORDER BY expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE pokes AS p
SET expired_at = %(now)s
FROM picked
WHERE p.id = picked.id
RETURNING p.from_user_id, p.to_user_id
