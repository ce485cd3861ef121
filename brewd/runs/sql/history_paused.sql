SELECT job FROM job_state WHERE paused
