-- expirePokes, purge batch: delete at most %(batch)s pokes that expired before the retention
-- cutoff, for good. The pick walks pokes_expired_at_idx (partial: expired_at IS NOT NULL)
-- from where the last batch stopped (%(after)s: see drain() in batches.py); the
-- delete fetches the picked rows by address (see expire_users.sql for why, and why the
-- condition is repeated).
DELETE FROM pokes
WHERE ctid = ANY (ARRAY(
    SELECT ctid
    FROM pokes
    WHERE expired_at IS NOT NULL AND expired_at < %(cutoff)s
      AND expired_at >= %(after)s
    ORDER BY expired_at
    LIMIT %(batch)s
))
  AND expired_at IS NOT NULL AND expired_at < %(cutoff)s
RETURNING id, expired_at
