-- Read at claim time, in the claim's transaction, so a pause on any node holds at once.
SELECT paused FROM job_state WHERE job = %s
