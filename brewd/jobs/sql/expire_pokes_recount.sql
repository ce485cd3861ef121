-- expirePokes, after a batch: each sender's exact number of live sent pokes, zero included,
-- counted on pokes_live_from_idx (partial: expired_at IS NULL) for the cache.
SELECT sender.id AS user_id,
       (SELECT count(*) FROM pokes AS p
        WHERE p.from_user_id = sender.id AND p.expired_at IS NULL) AS live_sent
FROM unnest(%(users)s::uuid[]) AS sender (id)
