-- Take the job's session advisory lock on the claim connection, without waiting:
-- "this job is running somewhere" for as long as that session lives.
SELECT pg_try_advisory_lock(%s, %s) AS ok
