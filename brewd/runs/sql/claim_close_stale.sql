-- The caller holds the job's lock: any other 'running' row of the job lost its node.
UPDATE job_runs SET status = 'failed', finished_at = now(),
    error = 'abandoned: its node stopped (lock released while running)'
WHERE job = %s AND status = 'running'
