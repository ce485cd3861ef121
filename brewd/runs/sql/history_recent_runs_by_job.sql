-- Each job's newest records (missed and skipped included), newest first.
SELECT {columns} FROM (
    SELECT *, row_number() OVER (PARTITION BY job ORDER BY id DESC) AS n FROM job_runs
) r
WHERE n <= %s
ORDER BY job, id DESC
