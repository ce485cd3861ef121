-- calculateBadges, step 2: award every badge type to every active user who qualifies and holds
-- no active badge of that type (SPEC §4), in one statement. The awards are noted in the run's
-- temporary table badge_changes, not returned: at 10M users they are millions of rows. Hours and calendar days are judged
-- in the café's own zone; only zones listed in %(zones)s (checked by step 1) are used.
-- The partial unique index badges (user_id, type) WHERE is_active makes a double award
-- impossible, even against a concurrent run: ON CONFLICT skips it.
WITH catalogue AS (
    SELECT *
    FROM unnest(%(types)s::text[], %(names)s::text[], %(descriptions)s::text[],
                %(lifetimes)s::interval[]) AS t (type, name, description, lifetime)
),
-- Active users' sessions of the last 30 days, with their start in the café's local time.
-- ::timestamptz: on an adopted database started_at is a naive wall-clock time in the session's
-- TimeZone (the legacy zone); read as an instant first, else AT TIME ZONE converts backwards.
-- On brewd's own timestamptz column it is a no-op.
recent AS (
    SELECT s.user_id, s.started_at::timestamptz AS started_at,
           s.started_at::timestamptz AT TIME ZONE c.timezone AS local_start
    FROM user_sessions AS s
    JOIN users AS u ON u.id = s.user_id AND u.is_active
    JOIN cafes AS c ON c.id = u.cafe_id AND c.timezone = ANY (%(zones)s::text[])
    WHERE s.started_at >= %(now)s::timestamptz - interval '30 days'
      AND s.started_at <= %(now)s::timestamptz
),
-- One pass over them: the three session-based rules per user.
per_user AS (
    SELECT user_id,
           bool_or(started_at >= %(now)s::timestamptz - interval '48 hours'
                   AND local_start::time >= '05:00' AND local_start::time < '08:00') AS early,
           bool_or(started_at >= %(now)s::timestamptz - interval '48 hours'
                   AND (local_start::time >= '22:00' OR local_start::time < '04:00')) AS night,
           count(DISTINCT local_start::date) >= 5 AS frequent
    FROM recent
    GROUP BY user_id
),
qualified AS (
    SELECT p.user_id, rule.type
    FROM per_user AS p
    CROSS JOIN LATERAL (
        VALUES ('EARLY_BIRD', p.early), ('NIGHT_OWL', p.night), ('FREQUENT_VISITOR', p.frequent)
    ) AS rule (type, met)
    WHERE rule.met
    UNION ALL
    -- Pokes are only soft-expired (and purged after a week at the earliest), so expired ones
    -- still count here. The hour plays no part, so the café's zone does not matter.
    SELECT p.from_user_id, 'SOCIAL_BUTTERFLY'
    FROM pokes AS p
    JOIN users AS u ON u.id = p.from_user_id AND u.is_active
    WHERE p.created_at >= %(now)s::timestamptz - interval '7 days'
      AND p.created_at <= %(now)s::timestamptz
    GROUP BY p.from_user_id
    HAVING count(*) >= 10
),
awarded AS (
    INSERT INTO badges (user_id, type, name, description, expires_at)
    SELECT q.user_id, t.type, t.name, t.description, %(now)s::timestamptz + t.lifetime
    FROM qualified AS q
    JOIN catalogue AS t ON t.type = q.type
    ON CONFLICT (user_id, type) WHERE is_active DO NOTHING
    RETURNING user_id, type
)
INSERT INTO pg_temp.badge_changes (user_id, type, retired)
SELECT user_id, type, false FROM awarded
