-- Before a retry: the run row is still 'running' on this node.
SELECT 1 FROM job_runs WHERE id = %s AND node = %s AND status = 'running'
