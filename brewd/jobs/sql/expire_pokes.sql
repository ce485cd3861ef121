-- expirePokes, one batch: mark at most %(batch)s live pokes past their expiry as expired at the
-- run's time (soft: Social Butterfly still counts them); one row back per poke, naming both
-- sides and the sender's exact number of live sent pokes once the batch commits (for the cache).
-- The pick walks pokes_live_expires_at_idx (partial: expired_at IS NULL) from where the last
-- batch stopped (%(after)s: see drain() in batches.py); the update fetches the picked rows by
-- address (see expire_users.sql for why an array, and why the condition is repeated).
WITH expired AS (
    UPDATE pokes
    SET expired_at = %(now)s
    WHERE ctid = ANY (ARRAY(
        SELECT ctid
        FROM pokes
        WHERE expired_at IS NULL AND expires_at <= %(now)s AND expires_at >= %(after)s
        ORDER BY expires_at
        LIMIT %(batch)s
    ))
      AND expired_at IS NULL AND expires_at <= %(now)s
    RETURNING from_user_id, to_user_id, expires_at
)
-- Every part of one statement reads the same snapshot, taken before the update: a sender's
-- live pokes counted here still include the ones this batch expires, so those are subtracted.
-- The count is a probe of pokes_live_from_idx (partial: expired_at IS NULL) per row: the
-- planner cannot estimate the rows of an UPDATE ... RETURNING, and joins on it become nested
-- loops over the whole batch (measured: 23 s a batch at 1M users instead of milliseconds).
SELECT e.from_user_id, e.to_user_id, e.expires_at,
       (SELECT count(*) FROM pokes AS p
        WHERE p.from_user_id = e.from_user_id AND p.expired_at IS NULL)
       - count(*) OVER (PARTITION BY e.from_user_id) AS live_sent
FROM expired AS e
