SELECT DISTINCT job FROM job_runs WHERE status = 'running'
