SELECT {columns} FROM job_runs WHERE job = %s ORDER BY id DESC LIMIT %s
