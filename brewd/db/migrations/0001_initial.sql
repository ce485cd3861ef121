-- brewd schema, version 1: the Brew Me In tables (original names and columns kept) plus job_runs.
-- Every statement is idempotent (IF NOT EXISTS) so that a database created by the original
-- system is adopted in place: the missing columns, constraints and indexes are added.
-- Times are timestamptz in UTC; ids use core gen_random_uuid() (PostgreSQL 13+, no extension).

CREATE TABLE IF NOT EXISTS cafes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL,
    location text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE cafes ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'UTC';
ALTER TABLE cafes ADD COLUMN IF NOT EXISTS enable_proactive_messages boolean NOT NULL DEFAULT false;
ALTER TABLE cafes ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;

CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username text NOT NULL,
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cafe_id, username)
);
-- expireUsers: live users by expiry, so the cost follows the rows that expire.
CREATE INDEX IF NOT EXISTS users_live_expires_at_idx ON users (expires_at) WHERE is_active;
CREATE INDEX IF NOT EXISTS users_cafe_active_idx ON users (cafe_id) WHERE is_active;

CREATE TABLE IF NOT EXISTS user_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS user_sessions_open_user_idx ON user_sessions (user_id) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS user_sessions_user_started_idx ON user_sessions (user_id, started_at);
CREATE INDEX IF NOT EXISTS user_sessions_started_at_idx ON user_sessions (started_at);
CREATE INDEX IF NOT EXISTS user_sessions_ended_at_idx ON user_sessions (ended_at);

CREATE TABLE IF NOT EXISTS badges (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type text NOT NULL,
    name text NOT NULL,
    description text,
    expires_at timestamptz,
    is_active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- At most one active badge per (user, type): calculateBadges can never double-award.
CREATE UNIQUE INDEX IF NOT EXISTS badges_one_active_per_type_idx
    ON badges (user_id, type) WHERE is_active;
CREATE INDEX IF NOT EXISTS badges_live_expires_at_idx
    ON badges (expires_at) WHERE is_active AND expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS pokes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    from_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message text,
    expires_at timestamptz NOT NULL,
    is_read boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE pokes ADD COLUMN IF NOT EXISTS expired_at timestamptz;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'pokes_not_self') THEN
        ALTER TABLE pokes ADD CONSTRAINT pokes_not_self CHECK (from_user_id <> to_user_id);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS pokes_live_expires_at_idx ON pokes (expires_at) WHERE expired_at IS NULL;
CREATE INDEX IF NOT EXISTS pokes_expired_at_idx ON pokes (expired_at) WHERE expired_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS pokes_from_created_idx ON pokes (from_user_id, created_at);
CREATE INDEX IF NOT EXISTS pokes_live_from_idx ON pokes (from_user_id) WHERE expired_at IS NULL;
CREATE INDEX IF NOT EXISTS pokes_to_user_idx ON pokes (to_user_id);
CREATE INDEX IF NOT EXISTS pokes_created_at_idx ON pokes (created_at);

CREATE TABLE IF NOT EXISTS messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content text NOT NULL,
    message_type text NOT NULL DEFAULT 'USER',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_created_at_idx ON messages (created_at);
CREATE INDEX IF NOT EXISTS messages_user_created_idx ON messages (user_id, created_at);

CREATE TABLE IF NOT EXISTS analytics (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    date date NOT NULL,
    hour integer NOT NULL CHECK (hour BETWEEN 0 AND 23),
    total_users integer NOT NULL DEFAULT 0,
    active_users integer NOT NULL DEFAULT 0,
    total_pokes integer NOT NULL DEFAULT 0,
    total_messages integer NOT NULL DEFAULT 0,
    average_session_duration double precision NOT NULL DEFAULT 0,
    peak_concurrent_users integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cafe_id, date, hour)
);
CREATE INDEX IF NOT EXISTS analytics_date_hour_idx ON analytics (date, hour);

CREATE TABLE IF NOT EXISTS agent_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    message_type text NOT NULL DEFAULT 'PROACTIVE',
    content text NOT NULL,
    context_data jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- proactiveMessages judges its rate limits from here, per café and recent time.
CREATE INDEX IF NOT EXISTS agent_messages_cafe_created_idx ON agent_messages (cafe_id, created_at);

CREATE TABLE IF NOT EXISTS job_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job text NOT NULL,
    slot timestamptz,  -- the scheduled time; NULL for manual runs
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'catchup', 'manual')),
    node text NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    status text NOT NULL
        CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'missed')),
    affected_records integer,
    message text,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job, slot)
);
CREATE INDEX IF NOT EXISTS job_runs_job_created_idx ON job_runs (job, id DESC);
CREATE INDEX IF NOT EXISTS job_runs_running_idx ON job_runs (job) WHERE status = 'running';

-- Pause state, stored here so that it holds cluster-wide and across restarts.
CREATE TABLE IF NOT EXISTS job_state (
    job text PRIMARY KEY,
    paused boolean NOT NULL DEFAULT false,
    paused_at timestamptz,
    paused_by text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
