-- aggregateAnalytics, step 2, one batch: upsert the computed rows numbered (%(after)s,
-- %(after)s + %(batch)s] (step 1, aggregate_analytics_compute.sql, in the run's temporary
-- table analytics_computed). Returns every row of the batch (the cache gets them all, which
-- repairs it) and whether the upsert inserted it, updated it, or left it alone because it was
-- already right.
WITH computed AS (
    SELECT *
    FROM pg_temp.analytics_computed
    WHERE n > %(after)s AND n <= %(after)s + %(batch)s
),
written AS (
    INSERT INTO analytics AS a (cafe_id, date, hour, total_users, active_users, total_pokes,
                                total_messages, average_session_duration, peak_concurrent_users)
    SELECT cafe_id, date, hour, total_users, active_users, total_pokes, total_messages,
           average_session_duration, peak_concurrent_users
    FROM computed
    ON CONFLICT (cafe_id, date, hour) DO UPDATE
    SET total_users = excluded.total_users,
        active_users = excluded.active_users,
        total_pokes = excluded.total_pokes,
        total_messages = excluded.total_messages,
        average_session_duration = excluded.average_session_duration,
        peak_concurrent_users = excluded.peak_concurrent_users,
        updated_at = now()
    -- A correct row is left alone: updated_at only moves when a value really changes. A row
    -- the original scheduler wrote (adopted database) is never overwritten: its date and hour
    -- are the original's local ones and its figures are defined differently.
    WHERE NOT a.from_original
      AND (a.total_users, a.active_users, a.total_pokes, a.total_messages,
           a.average_session_duration, a.peak_concurrent_users)
          IS DISTINCT FROM
          (excluded.total_users, excluded.active_users, excluded.total_pokes,
           excluded.total_messages, excluded.average_session_duration,
           excluded.peak_concurrent_users)
    -- xmax is 0 on a freshly inserted row version, the locker's xid on an updated one.
    RETURNING a.cafe_id, a.date, a.hour, a.xmax::text = '0' AS inserted
)
SELECT c.cafe_id, c.h, c.total_users, c.active_users, c.total_pokes, c.total_messages,
       c.average_session_duration, c.peak_concurrent_users,
       CASE WHEN w.inserted THEN 'inserted' WHEN w.cafe_id IS NOT NULL THEN 'updated'
            ELSE 'unchanged' END AS outcome
FROM computed AS c
LEFT JOIN written AS w ON w.cafe_id = c.cafe_id AND w.date = c.date AND w.hour = c.hour
