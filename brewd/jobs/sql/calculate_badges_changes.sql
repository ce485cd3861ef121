-- calculateBadges: the run's note of the badges it retired and awarded, so that their holders'
-- caches can be invalidated after the commit without holding millions of rows in the daemon.
-- Temporary (this connection only, never WAL-logged); dropped at the end of the run, and
-- first thing by the next run should a failed one have left it on a pooled connection.
DROP TABLE IF EXISTS pg_temp.badge_changes;
CREATE TEMPORARY TABLE badge_changes (user_id, type, retired) AS
    SELECT user_id, type, false FROM badges WITH NO DATA
