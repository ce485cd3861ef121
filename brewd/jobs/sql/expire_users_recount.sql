-- expireUsers, after its batches: the exact number of active users of each café touched,
-- zero included, counted on users_cafe_active_idx (partial: is_active) for the cache.
SELECT cafe.id AS cafe_id,
       (SELECT count(*) FROM users AS u WHERE u.cafe_id = cafe.id AND u.is_active) AS active_users
FROM unnest(%(cafes)s::uuid[]) AS cafe (id)
