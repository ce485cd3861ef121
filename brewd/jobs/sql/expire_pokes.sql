-- expirePokes, one batch: mark at most %(batch)s live pokes past their expiry as expired at the
-- run's time (soft: Social Butterfly still counts them); one row back per poke, naming both
-- sides and the sender's exact number of live sent pokes once the batch commits (for the cache).
-- The pick walks pokes_live_expires_at_idx (partial: expired_at IS NULL); the update fetches
-- the picked rows by key (see expire_users.sql for why an array, and why the
-- condition is repeated).
WITH expired AS (
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
),
by_sender AS (
    SELECT from_user_id, count(*) AS expired FROM expired GROUP BY from_user_id
),
-- Every part of one statement reads the same snapshot, taken before the update: the senders'
-- live pokes counted here still include the ones this batch expires, so those are subtracted.
-- One scan of pokes_live_from_idx (partial: expired_at IS NULL) with the senders as array keys.
live_before AS (
    SELECT from_user_id, count(*) AS live
    FROM pokes
    WHERE from_user_id = ANY (ARRAY(SELECT from_user_id FROM by_sender))
      AND expired_at IS NULL
    GROUP BY from_user_id
)
SELECT e.from_user_id, e.to_user_id, l.live - s.expired AS live_sent
FROM expired AS e
JOIN by_sender AS s USING (from_user_id)
JOIN live_before AS l USING (from_user_id)
