"""An environment file written for the original scheduler, unchanged, as brewd's
EnvironmentFile: `brewd db init` and `brewd check-config` reach the database it names through
DB_HOST/DB_PORT/DB_NAME/DB_USER and the Redis of REDIS_URL (real PostgreSQL and Redis)."""

from __future__ import annotations

from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from tests.reliability.daemon import clean_env, run_brewd
from tests.unit.test_original_env import env_file


def original_env_file(pg_dsn: str, redis_url: str) -> str:
    target = conninfo_to_dict(pg_dsn)
    return f"""\
# Database Configuration
DB_HOST={target.get("host", "127.0.0.1")}
DB_PORT={target.get("port", "5432")}
DB_NAME={target["dbname"]}
DB_USER={target.get("user", "postgres")}
DB_PASSWORD=unused-with-trust-auth

# Redis Configuration
REDIS_URL={redis_url}
REDIS_HOST=localhost
REDIS_PORT=6379

PORT=3000
NODE_ENV=production
CLAUDE_API_KEY=your-api-key-here
ENABLE_SCHEDULER=true
ENABLE_PROACTIVE_MESSAGES=false
LOG_LEVEL=verbose
SESSION_SECRET=your-session-secret-here
"""


def test_db_init_and_check_config_with_the_originals_file(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    text = original_env_file(pg_dsn, redis_url)
    (tmp_path / "brewd.env").write_text(text)
    env = clean_env(**env_file(text))

    done = run_brewd("db", "init", "--config", "/dev/null", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("schema at version ")

    done = run_brewd("check-config", "--config", "/dev/null", env=env)
    assert done.returncode == 0, done.stderr
    assert f"dbname={conninfo_to_dict(pg_dsn)['dbname']}" in done.stdout
    assert "password=***" in done.stdout
    assert "unused-with-trust-auth" not in done.stdout
    assert "logging.level = debug  # LOG_LEVEL ('verbose', winston's name)" in done.stdout
    assert f"redis.url = {redis_url}  # REDIS_URL" in done.stdout
