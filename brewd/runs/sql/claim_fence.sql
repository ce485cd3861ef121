-- Inside each batch's transaction, just before commit: the run is still ours. FOR SHARE holds
-- the row until the commit, so no other node can mark the run abandoned in between.
SELECT 1 FROM job_runs WHERE id = %s AND node = %s AND status = 'running' FOR SHARE
