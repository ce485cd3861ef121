-- The run's 'running' row. UNIQUE (job, slot) lets one node, and only one, insert a slot.
-- A slot recorded 'skipped' by a node that found the lock taken may have lost a race with
-- this very claim (it saw our lock before our row): we hold the lock now, so nothing else
-- runs the job, and the slot is ours.
INSERT INTO job_runs (job, slot, trigger, node, started_at, status)
VALUES (%s, %s, %s, %s, now(), 'running')
ON CONFLICT (job, slot) DO UPDATE SET trigger = EXCLUDED.trigger,
    node = EXCLUDED.node, started_at = now(), status = 'running',
    message = NULL, finished_at = NULL
WHERE job_runs.status = 'skipped'
RETURNING {columns}
