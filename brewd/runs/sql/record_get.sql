SELECT {columns} FROM job_runs WHERE id = %s
