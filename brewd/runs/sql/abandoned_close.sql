-- Close an abandoned run, unless it finished meanwhile.
UPDATE job_runs SET status = 'failed', finished_at = now(), error = %s
WHERE id = %s AND status = 'running'
