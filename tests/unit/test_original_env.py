"""The original scheduler's environment: DB_*, REDIS_HOST/PORT/PASSWORD, winston's LOG_LEVEL,
an environment file written for the original, and check-config's origins."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from brewd.cli.brewd import main
from brewd.cli.settings import load, load_explained
from brewd.core.errors import ConfigError
from brewd.core.exits import EX_CONFIG

# An environment file as an operator of the original keeps it: the variables its .env.example
# documents (at ad1038d), filled in; DATABASE_URL deleted, since the original never read it.
ORIGINAL_ENV = """\
# Database Configuration
DB_HOST=db.internal
DB_PORT=5433
DB_NAME=brew_me_in
DB_USER=brew
DB_PASSWORD=Db-Secret-91

# Redis Configuration
REDIS_URL=redis://cache.internal:6379
REDIS_HOST=cache.internal
REDIS_PORT=6379

# Server Configuration
PORT=3000
NODE_ENV=production

# Claude API Configuration
CLAUDE_API_KEY=sk-ant-original-key
CLAUDE_API_URL=https://api.anthropic.com

# Scheduler Configuration
ENABLE_SCHEDULER=true
ENABLE_PROACTIVE_MESSAGES=true
LOG_LEVEL=warn

SESSION_SECRET=session-secret
ALLOWED_ORIGINS=http://localhost:3000,http://localhost:5173
"""


def env_file(text: str) -> dict[str, str]:
    """VARIABLE=value lines as systemd's EnvironmentFile= (and the original's dotenv) read them."""
    parsed = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")) and "=" in line:
            name, _, value = line.partition("=")
            parsed[name.strip()] = value
    return parsed


def test_an_environment_file_written_for_the_original_gives_the_same_connections() -> None:
    config = load("/dev/null", env_file(ORIGINAL_ENV))
    assert config.database.url is not None
    assert conninfo_to_dict(config.database.url) == {
        "host": "db.internal",
        "port": "5433",
        "dbname": "brew_me_in",
        "user": "brew",
        "password": "Db-Secret-91",
    }
    assert config.redis.url == "redis://cache.internal:6379"  # REDIS_URL, as the original
    assert config.logging.level == "warning"
    assert config.scheduler.enabled is True
    assert config.proactive.enabled is True
    # The original's scheduler never called Claude (its messages were templates): its
    # CLAUDE_API_KEY does not switch brewd to paid API calls.
    assert config.proactive.api_key is None


def test_the_original_defaults_fill_what_db_variables_leave_out() -> None:
    config = load("/dev/null", {"DB_PASSWORD": "pw-1234", "DB_HOST": ""})  # "" = unset, as `||`
    assert config.database.url is not None
    assert conninfo_to_dict(config.database.url) == {
        "host": "localhost",
        "port": "5432",
        "dbname": "brew_me_in",
        "user": "postgres",
        "password": "pw-1234",
    }


def test_libpq_variables_come_before_the_original_defaults() -> None:
    environ = {"DB_NAME": "brew_me_in", "PGHOST": "/run/postgresql", "PGUSER": "brewd"}
    config = load("/dev/null", environ)
    assert config.database.url is not None
    # host and user left to libpq, which reads PGHOST and PGUSER; no default password
    assert conninfo_to_dict(config.database.url) == {"dbname": "brew_me_in", "port": "5432"}


def test_database_url_wins_when_it_agrees() -> None:
    environ = {
        "DATABASE_URL": "postgresql://brew:pw-1234@db.internal:5433/brew_me_in",
        "DB_HOST": "db.internal",
        "DB_USER": "brew",
        "DB_PASSWORD": "pw-1234",
    }
    assert load("/dev/null", environ).database.url == environ["DATABASE_URL"]


def test_a_placeholder_database_url_beside_db_variables_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The original's .env.example holds a placeholder DATABASE_URL the original never read."""
    environ = env_file(ORIGINAL_ENV)
    environ["DATABASE_URL"] = "postgresql://user:password@localhost:5432/brew_me_in"
    assert main(["check-config", "--config", "/dev/null"], environ) == EX_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "DATABASE_URL and DB_HOST, DB_PORT, DB_USER, DB_PASSWORD name different" in err
    assert "Db-Secret-91" not in err
    assert ":password@" not in err


@pytest.mark.parametrize("port", ["abc", "0", "65536", "5432x", "9" * 5000, "٥٤٣٢"])
def test_a_bad_db_port_is_one_line(port: str) -> None:
    with pytest.raises(ConfigError, match=r"DB_PORT = .*expected a port number from 1 to 65535"):
        load("/dev/null", {"DB_PORT": port})


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({"REDIS_HOST": "cache", "REDIS_PORT": "6380"}, "redis://cache:6380/0"),
        ({"REDIS_PORT": "6380"}, "redis://127.0.0.1:6380/0"),
        ({"REDIS_HOST": "::1"}, "redis://[::1]:6379/0"),
        ({"REDIS_HOST": "cache", "REDIS_PASSWORD": "p@ss/w"}, "redis://:p%40ss%2Fw@cache:6379/0"),
        ({"REDIS_URL": "redis://other:1/3", "REDIS_HOST": "cache"}, "redis://other:1/3"),
        ({"REDIS_URL": "", "REDIS_HOST": "cache"}, "redis://cache:6379/0"),
    ],
)
def test_redis_host_port_password_when_redis_url_is_unset(
    environ: dict[str, str], url: str
) -> None:
    assert load("/dev/null", environ).redis.url == url


@pytest.mark.parametrize("host", ["a b", "x/y", "u@h", "h?x"])
def test_a_bad_redis_host_is_one_line(host: str) -> None:
    with pytest.raises(ConfigError, match="REDIS_HOST"):
        load("/dev/null", {"REDIS_HOST": host})


@pytest.mark.parametrize(
    ("winston", "loguru"),
    [
        ("error", "error"),
        ("warn", "warning"),
        ("info", "info"),
        ("http", "info"),
        ("verbose", "debug"),
        ("debug", "debug"),
        ("silly", "trace"),
        ("WARN", "warning"),
    ],
)
def test_every_winston_level_maps_to_the_nearest_loguru_level(winston: str, loguru: str) -> None:
    assert load("/dev/null", {"LOG_LEVEL": winston}).logging.level == loguru


def test_winston_levels_run_the_daemon_logging(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: LOG_LEVEL=warn (or verbose, http, silly) exited 78."""
    for level in ("warn", "verbose", "http", "silly"):
        assert main(["check-config", "--config", "/dev/null"], {"LOG_LEVEL": level}) == 0
    assert main(["check-config", "--config", "/dev/null", "--log-level", "loud"], {}) == EX_CONFIG
    assert "winston's error, warn, info, http, verbose, debug, silly" in capsys.readouterr().err


def test_check_config_says_where_each_value_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "brewd.toml"
    path.write_text('[scheduler]\ntimezone = "Asia/Tokyo"\nworkers = 3\n')
    environ = {
        "DB_HOST": "db.internal",
        "DB_PASSWORD": "Db-Secret-91",
        "LOG_LEVEL": "verbose",
        "BREWD_SCHEDULER_WORKERS": "5",
        "REDIS_HOST": "cache",
    }
    argv = ["check-config", "--config", str(path), "--set", "history.keep_days=9"]
    assert main([*argv, "--socket", "/tmp/b.sock"], environ) == 0
    out = capsys.readouterr().out
    assert "Db-Secret-91" not in out
    lines = dict(line.split(" = ", 1) for line in out.splitlines() if not line.startswith("#"))
    assert lines["scheduler.timezone"] == f"Asia/Tokyo  # {path}"
    assert lines["scheduler.workers"] == "5  # BREWD_SCHEDULER_WORKERS"
    assert lines["scheduler.enabled"] == "true  # default"
    assert lines["history.keep_days"] == "9  # --set"
    assert lines["control.socket"] == "/tmp/b.sock  # --socket"
    assert lines["logging.level"] == "debug  # LOG_LEVEL ('verbose', winston's name)"
    assert lines["redis.url"] == "redis://cache:6379/0  # REDIS_HOST"
    assert lines["database.url"] == (
        "host=db.internal password=*** port=5432 dbname=brew_me_in user=postgres"
        "  # DB_HOST, DB_PASSWORD (the original's variables)"
    )


def test_check_config_names_libpq_variables_when_no_url_is_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    environ = {"PGHOST": "db", "PGPASSWORD": "x"}
    assert main(["check-config", "--config", "/dev/null"], environ) == 0
    out = capsys.readouterr().out
    expected = "# default: libpq's PG* variables (PGHOST, PGPASSWORD set) and defaults"
    assert f"database.url = (unset)  {expected}" in out


def test_origins_of_flags() -> None:
    loaded = load_explained(
        "/dev/null", {}, {"logging.level": "debug", "scheduler.workers": "2"}, {}
    )
    assert loaded.origins == {"logging.level": "--set", "scheduler.workers": "--set"}


def test_empty_original_variables_keep_the_defaults() -> None:
    """The original read `ENABLE_SCHEDULER !== 'false'` and `LOG_LEVEL || 'info'`: an empty
    line in its file meant the default; before, brewd refused it (exit 78)."""
    names = ("ENABLE_SCHEDULER", "ENABLE_PROACTIVE_MESSAGES", "LOG_LEVEL", "REDIS_URL")
    config = load("/dev/null", dict.fromkeys(names, ""))
    assert config.scheduler.enabled is True
    assert config.proactive.enabled is False
    assert config.logging.level == "info"
    assert config.redis.url == "redis://127.0.0.1:6379/0"
