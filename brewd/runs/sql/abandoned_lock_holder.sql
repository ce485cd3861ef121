-- The backend holding a job's advisory lock (classid, objid = the two keys), if any.
-- Advisory locks are per database, but pg_locks shows the whole cluster.
SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 2 AND granted
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
