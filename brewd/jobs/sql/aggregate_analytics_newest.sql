-- aggregateAnalytics: the newest hour brewd already stored (any café), to extend the window
-- back over downtime. Walks analytics (date, hour) backwards: one index probe once brewd has
-- written a row. The original scheduler's rows (adopted database) do not count: their hours
-- are in its local zone, not UTC.
SELECT (date + make_interval(hours => hour)) AT TIME ZONE 'UTC' AS newest
FROM analytics
WHERE NOT from_original
ORDER BY date DESC, hour DESC
LIMIT 1
