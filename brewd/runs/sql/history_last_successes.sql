-- Each job's newest successful finish, on any node.
SELECT job, max(finished_at) AS at FROM job_runs WHERE status = 'succeeded' GROUP BY job
