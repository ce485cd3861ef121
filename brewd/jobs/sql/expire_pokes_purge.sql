-- expirePokes, purge batch: delete at most %(batch)s pokes that expired before the retention
-- cutoff, for good. The pick walks pokes_expired_at_idx (partial: expired_at IS NOT NULL).
WITH picked AS (
    SELECT id
    FROM pokes
    WHERE expired_at IS NOT NULL AND expired_at < %(cutoff)s
    ORDER BY expired_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
DELETE FROM pokes AS p
USING picked
WHERE p.id = picked.id
RETURNING p.id
