-- Finished runs beyond the newest keep_runs per job, or older than keep_days.
DELETE FROM job_runs WHERE id IN (
    SELECT id FROM (
        SELECT id, created_at, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n
        FROM job_runs WHERE status <> 'running'
    ) r
    WHERE n > %s OR created_at < now() - make_interval(days => %s)
)
