-- Every run some node says is running, with the database's clock to judge how long.
SELECT id, job, node, started_at, now() AS db_now FROM job_runs WHERE status = 'running'
