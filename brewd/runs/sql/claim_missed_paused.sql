-- A scheduled slot of a paused job: recorded missed, unless some node already recorded it.
INSERT INTO job_runs (job, slot, trigger, node, status, message, finished_at)
VALUES (%s, %s, %s, %s, 'missed', 'missed: paused', now())
ON CONFLICT (job, slot) DO NOTHING
