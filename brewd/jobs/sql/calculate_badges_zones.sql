-- calculateBadges, step 1: every time zone the cafés use, and whether PostgreSQL knows it.
-- pg_timezone_names is read once per run (it costs tens of milliseconds); a café whose zone is
-- unknown is left out of the hour-based badges instead of failing the whole run.
SELECT zone.timezone,
       zone.timezone IN (SELECT name FROM pg_timezone_names) AS known,
       zone.cafe_ids
FROM (
    SELECT timezone, array_agg(id ORDER BY id) AS cafe_ids
    FROM cafes
    GROUP BY timezone
) AS zone
ORDER BY zone.timezone
