-- The nodes that recorded runs lately: name, last seen, runs and failures.
SELECT node, max(coalesce(finished_at, started_at)) AS last_seen,
    count(*) FILTER (WHERE status IN ('succeeded', 'failed')) AS runs,
    count(*) FILTER (WHERE status = 'failed') AS failures,
    count(*) FILTER (WHERE status = 'running') AS running
FROM job_runs WHERE coalesce(finished_at, started_at) > now() - %s
GROUP BY node ORDER BY last_seen DESC
