SELECT count(*) AS n FROM job_runs
WHERE status = 'failed' AND finished_at > now() - interval '1 hour'
