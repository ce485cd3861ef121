-- Give the job's advisory lock back (the run is over and recorded).
SELECT pg_advisory_unlock(%s, %s)
