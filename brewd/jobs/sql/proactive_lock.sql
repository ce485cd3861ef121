-- proactiveMessages: one poster per café at a time, cluster-wide. Transaction-level, so the
-- lock goes with the commit (or with the connection, if the node dies).
SELECT pg_advisory_xact_lock(hashtextextended('brewd.proactiveMessages:' || %(cafe_id)s::text, 0))
