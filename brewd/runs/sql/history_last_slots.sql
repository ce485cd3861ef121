-- The newest slot up to %(until)s each job has any record of (run, skipped or missed), on any
-- node. A later slot is one a node with a fast clock ran early; the slots before it are still
-- to be run or recorded.
SELECT job, max(slot) AS slot FROM job_runs
WHERE slot IS NOT NULL AND slot <= %(until)s
GROUP BY job
