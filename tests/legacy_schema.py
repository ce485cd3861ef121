"""The original scheduler's schema (hunarjain09/brew_me_in ad1038d, database/schema.sql), written
from its column list for tests and the adoption benchmark: naive `timestamp` times defaulting
to NOW() in the database's zone, uuid-ossp ids, an updated_at trigger, no brewd additions.
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.errors

_T = "timestamp without time zone"

ORIGINAL_SCHEMA = f"""
CREATE TABLE cafes (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    name varchar(255) NOT NULL, location varchar(255) NOT NULL,
    enable_proactive_messages boolean DEFAULT false, is_active boolean DEFAULT true,
    created_at {_T} DEFAULT now(), updated_at {_T} DEFAULT now());
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    username varchar(100) NOT NULL,
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    expires_at {_T} NOT NULL, is_active boolean DEFAULT true,
    created_at {_T} DEFAULT now(), updated_at {_T} DEFAULT now(),
    UNIQUE (cafe_id, username));
CREATE TABLE user_sessions (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at {_T} DEFAULT now(), ended_at {_T}, created_at {_T} DEFAULT now());
CREATE TABLE badges (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type varchar(50) NOT NULL, name varchar(100) NOT NULL, description text,
    expires_at {_T}, is_active boolean DEFAULT true,
    created_at {_T} DEFAULT now(), updated_at {_T} DEFAULT now());
CREATE TABLE pokes (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    from_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message text, expires_at {_T} NOT NULL, is_read boolean DEFAULT false,
    created_at {_T} DEFAULT now(), CHECK (from_user_id != to_user_id));
CREATE TABLE messages (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content text NOT NULL, message_type varchar(50) DEFAULT 'USER',
    created_at {_T} DEFAULT now());
CREATE TABLE analytics (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    date date NOT NULL, hour integer NOT NULL CHECK (hour >= 0 AND hour < 24),
    total_users integer DEFAULT 0, active_users integer DEFAULT 0,
    total_pokes integer DEFAULT 0, total_messages integer DEFAULT 0,
    average_session_duration float DEFAULT 0, peak_concurrent_users integer DEFAULT 0,
    created_at {_T} DEFAULT now(), updated_at {_T} DEFAULT now(),
    UNIQUE (cafe_id, date, hour));
CREATE TABLE agent_messages (
    id uuid PRIMARY KEY DEFAULT uuid_generate_v4(),
    cafe_id uuid NOT NULL REFERENCES cafes (id) ON DELETE CASCADE,
    message_type varchar(50) NOT NULL, content text NOT NULL, context_data jsonb,
    created_at {_T} DEFAULT now());
CREATE INDEX idx_users_cafe_id ON users (cafe_id);
CREATE INDEX idx_users_expires_at ON users (expires_at);
CREATE INDEX idx_users_active ON users (is_active);
CREATE INDEX idx_users_username ON users (username);
CREATE INDEX idx_user_sessions_user_id ON user_sessions (user_id);
CREATE INDEX idx_user_sessions_created_at ON user_sessions (created_at);
CREATE INDEX idx_badges_user_id ON badges (user_id);
CREATE INDEX idx_badges_type ON badges (type);
CREATE INDEX idx_badges_expires_at ON badges (expires_at);
CREATE INDEX idx_badges_active ON badges (is_active);
CREATE INDEX idx_pokes_from_user ON pokes (from_user_id);
CREATE INDEX idx_pokes_to_user ON pokes (to_user_id);
CREATE INDEX idx_pokes_expires_at ON pokes (expires_at);
CREATE INDEX idx_pokes_created_at ON pokes (created_at);
CREATE INDEX idx_messages_user_id ON messages (user_id);
CREATE INDEX idx_messages_created_at ON messages (created_at);
CREATE INDEX idx_analytics_cafe_date ON analytics (cafe_id, date);
CREATE INDEX idx_analytics_date ON analytics (date);
CREATE INDEX idx_agent_messages_cafe_id ON agent_messages (cafe_id);
CREATE INDEX idx_agent_messages_created_at ON agent_messages (created_at);
CREATE FUNCTION update_updated_at_column() RETURNS trigger AS $$
BEGIN NEW.updated_at = now(); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER update_cafes_updated_at BEFORE UPDATE ON cafes
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_badges_updated_at BEFORE UPDATE ON badges
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_analytics_updated_at BEFORE UPDATE ON analytics
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
"""

# The schema at the repository's HEAD (backend/src/db/schema.sql) differs: among others its
# users have no is_active. Enough of it to be told apart.
HEAD_USERS = """
CREATE TABLE cafes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), username text NOT NULL,
    cafe_id uuid REFERENCES cafes (id), expires_at timestamp NOT NULL,
    created_at timestamp DEFAULT now());
"""


def create_original_schema(conn: psycopg.Connection[Any], timezone: str) -> None:
    """The original's tables, in a database whose TimeZone (what NOW() writes) is `timezone`."""
    dbname = conn.info.dbname
    conn.execute(f"ALTER DATABASE \"{dbname}\" SET TimeZone = '{timezone}'")  # test-made names
    conn.execute(f"SET TimeZone = '{timezone}'")
    try:
        conn.execute('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"')
    except psycopg.errors.FeatureNotSupported:
        # A server without contrib (the embedded fallback): the same function, from core.
        conn.execute(
            "CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql"
            " AS 'SELECT gen_random_uuid()'"
        )
    conn.execute(ORIGINAL_SCHEMA)
