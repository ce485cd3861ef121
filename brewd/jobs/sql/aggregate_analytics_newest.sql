-- aggregateAnalytics: the newest hour already stored (any café), to extend the window back
-- over downtime. Walks analytics (date, hour) backwards: one index probe.
SELECT (date + make_interval(hours => hour)) AT TIME ZONE 'UTC' AS newest
FROM analytics
ORDER BY date DESC, hour DESC
LIMIT 1
