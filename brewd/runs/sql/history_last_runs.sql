-- Each job's newest run that actually ran (not missed or skipped).
SELECT DISTINCT ON (job) {columns} FROM job_runs
WHERE status IN ('running', 'succeeded', 'failed')
ORDER BY job, id DESC
