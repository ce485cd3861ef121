-- Slots that did not run ('missed' or 'skipped'); a slot another node already recorded keeps
-- its record.
INSERT INTO job_runs (job, slot, trigger, node, status, message, finished_at)
SELECT %s, s, 'schedule', %s, %s, %s, now() FROM unnest(%s::timestamptz[]) s
ON CONFLICT (job, slot) DO NOTHING
