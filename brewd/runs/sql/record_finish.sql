-- A run's outcome; returns nothing when the run was already closed (e.g. marked abandoned).
UPDATE job_runs SET status = %s, finished_at = now(), affected_records = %s,
    message = %s, error = %s, attempts = %s, last_error = %s
WHERE id = %s AND status = 'running'
RETURNING {columns}
