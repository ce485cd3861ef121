-- The newest slot each job has any record of (run, skipped or missed), on any node.
SELECT job, max(slot) AS slot FROM job_runs WHERE slot IS NOT NULL GROUP BY job
