-- aggregateAnalytics: the cafés that get rows (inactive cafés keep their history, no new rows).
SELECT id FROM cafes WHERE is_active ORDER BY id
