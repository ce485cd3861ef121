-- expirePokes, after a batch: each sender's exact number of live sent pokes, for the cache.
-- One scan of pokes_live_from_idx (partial: expired_at IS NULL) with the senders as sorted
-- array keys; senders with no live poke left have no row (the job counts them as zero).
SELECT from_user_id AS user_id, count(*) AS live_sent
FROM pokes
WHERE from_user_id = ANY (%(users)s::uuid[]) AND expired_at IS NULL
GROUP BY from_user_id
