-- proactiveMessages: per café, its latest proactive message and how many it got since the
-- start of its local day (computed by the caller, who knows the café's zone).
-- ::timestamptz: an instant also when created_at is an adopted database's naive column.
SELECT t.cafe_id,
       max(a.created_at)::timestamptz AS last_at,
       count(a.id) FILTER (WHERE a.created_at >= t.day_start) AS today
  FROM unnest(%(cafe_ids)s::uuid[], %(day_starts)s::timestamptz[]) AS t (cafe_id, day_start)
  LEFT JOIN agent_messages a
    ON a.cafe_id = t.cafe_id
   AND a.message_type = 'PROACTIVE'
   AND a.created_at >= least(t.day_start, %(since)s)
 GROUP BY t.cafe_id
