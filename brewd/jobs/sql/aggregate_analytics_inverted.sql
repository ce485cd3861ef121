-- aggregateAnalytics: sessions in the window that end before they start (rows an API server
-- wrote badly). They count for nothing; the run reports how many, once. ended_at's own index.
SELECT count(*) AS n
FROM user_sessions
WHERE ended_at >= %(start)s::timestamptz AND ended_at < %(end)s::timestamptz
  AND ended_at < started_at
