-- Pause or resume a job cluster-wide: every node reads job_state when it claims a slot.
INSERT INTO job_state (job, paused, paused_at, paused_by, updated_at)
VALUES (%(job)s, %(paused)s, CASE WHEN %(paused)s THEN now() END, %(by)s, now())
ON CONFLICT (job) DO UPDATE SET paused = EXCLUDED.paused,
    paused_at = EXCLUDED.paused_at, paused_by = EXCLUDED.paused_by, updated_at = now()
