-- expireUsers, after its batches: the exact number of active users of each café touched, for
-- the cache, from users_cafe_active_idx (partial: is_active). Cafés left with no active user
-- have no row (the job counts them as zero).
SELECT cafe_id, count(*) AS active_users
FROM users
WHERE cafe_id = ANY (%(cafes)s::uuid[]) AND is_active
GROUP BY cafe_id
