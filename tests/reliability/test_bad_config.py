"""Every kind of bad configuration, from the file, the environment, flags and their mix: `brewd
run` exits 78 with one line naming the key, and nothing is left half started (no socket)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability.daemon import clean_env, run_brewd

PASSWORD = "s3cret-pw-in-url"
# (what, TOML file text, environment, extra arguments, what the line must name)
CASES: list[tuple[str, str, dict[str, str], list[str], str]] = [
    ("unknown zone", '[scheduler]\ntimezone = "Mars/Olympus"', {}, [], "scheduler.timezone"),
    ("int as text", '[scheduler]\nworkers = "eight"', {}, [], "scheduler.workers"),
    ("zero workers", "[scheduler]\nworkers = 0", {}, [], "scheduler.workers"),
    ("bool as text", '[scheduler]\nenabled = "maybe"', {}, [], "scheduler.enabled"),
    (
        "bad duration",
        '[scheduler]\nshutdown_timeout = "soon"',
        {},
        [],
        "scheduler.shutdown_timeout",
    ),
    ("unknown key", "[scheduler]\nbogus = 1", {}, [], "scheduler.bogus"),
    ("unknown section", "[nosuch]\nx = 1", {}, [], "[nosuch]"),
    ("section not a table", "scheduler = 5", {}, [], "scheduler"),
    ("words for cron", '[jobs.expireUsers]\nschedule = "every hour"', {}, [], "jobs.expireUsers"),
    (
        "minute 61",
        '[jobs.expireUsers]\nschedule = "61 * * * *"',
        {},
        [],
        "jobs.expireUsers.schedule",
    ),
    ("negative timeout", "[jobs.expireUsers]\ntimeout = -5", {}, [], "jobs.expireUsers.timeout"),
    ("unknown job", '[jobs.noSuchJob]\nschedule = "* * * * *"', {}, [], "jobs.noSuchJob"),
    ("unknown job key", '[jobs.expireUsers]\ncolour = "red"', {}, [], "jobs.expireUsers.colour"),
    ("short retention", "[pokes]\nretention_days = 3", {}, [], "pokes.retention_days"),
    ("pool of one", "[database]\npool_max_size = 1", {}, [], "database.pool_max_size"),
    ("zero batch", "[database]\nbatch_size = 0", {}, [], "database.batch_size"),
    ("bad level", '[logging]\nlevel = "loud"', {}, [], "logging.level"),
    ("negative retries", "[proactive]\nmax_retries = -1", {}, [], "proactive.max_retries"),
    ("zero interval", '[proactive]\nmin_interval = "0s"', {}, [], "proactive.min_interval"),
    ("redis url", f'[redis]\nurl = "http://:{PASSWORD}@x"', {}, [], "redis.url"),
    ("dsn", f'[database]\nurl = "host=x password={PASSWORD} port"', {}, [], "database.url"),
    ("empty socket", '[control]\nsocket = ""', {}, [], "control.socket"),
    ("not TOML", "[[[ nope", {}, [], "not valid TOML"),
    ("bool env", "", {"ENABLE_SCHEDULER": "maybe"}, [], "scheduler.enabled"),
    ("bool env 2", "", {"ENABLE_PROACTIVE_MESSAGES": "2"}, [], "proactive.enabled"),
    ("level env", "", {"LOG_LEVEL": "loud"}, [], "logging.level"),
    ("redis env", "", {"REDIS_URL": f"foo://:{PASSWORD}@bar"}, [], "redis.url"),
    # brewd's own name; an empty REDIS_URL (the original's name) keeps the default, as the
    # original read it (tests/unit/test_original_env.py)
    ("empty redis env", "", {"BREWD_REDIS_URL": ""}, [], "redis.url"),
    ("dsn env", "", {"DATABASE_URL": f"password={PASSWORD} notadsn"}, [], "database.url"),
    ("int env", "", {"BREWD_SCHEDULER_WORKERS": "x"}, [], "scheduler.workers"),
    ("job env", "", {"BREWD_JOBS_NOSUCHJOB_SCHEDULE": "* * * * *"}, [], "BREWD_JOBS_NOSUCHJOB"),
    ("cron env", "", {"BREWD_JOBS_EXPIREPOKES_SCHEDULE": "*/0 * * * *"}, [], "expirePokes"),
    ("empty zone env", "", {"BREWD_SCHEDULER_TIMEZONE": ""}, [], "scheduler.timezone"),
    ("empty model env", "", {"BREWD_PROACTIVE_MODEL": " "}, [], "proactive.model"),
    ("api url env", "", {"ANTHROPIC_BASE_URL": "ftp://x"}, [], "proactive.base_url"),
    ("long socket env", "", {"BREWD_CONTROL_SOCKET": "/tmp/" + "s" * 200}, [], "control.socket"),
    # A good file with a bad environment, a bad file the environment does not fix, a flag.
    ("env over file", "[scheduler]\nworkers = 4", {"BREWD_SCHEDULER_WORKERS": "-1"}, [], "workers"),
    ("file, env elsewhere", "[history]\nkeep_days = 0", {"LOG_LEVEL": "debug"}, [], "keep_days"),
    ("flag", "", {}, ["--set", "scheduler.workers=abc"], "scheduler.workers"),
]


@pytest.mark.parametrize(
    ("toml", "env", "args", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_configuration_exits_78_with_one_line_and_starts_nothing(
    tmp_path: Path, toml: str, env: dict[str, str], args: list[str], names: str
) -> None:
    sock = str(tmp_path / "s.sock")
    if "[control]" not in toml:  # where the socket would be, were the daemon to start
        toml += f'\n[control]\nsocket = "{sock}"'
    config = tmp_path / "brewd.toml"
    config.write_text(toml + "\n")
    environ = clean_env(**env)
    result = run_brewd("run", "--config", str(config), *args, env=environ)
    assert result.returncode == 78, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("brewd: configuration error: ")
    assert names in lines[0]
    assert PASSWORD not in lines[0]
    assert not os.path.exists(sock)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brewd.toml"]


def test_a_malformed_set_flag_is_a_usage_error_and_starts_nothing(tmp_path: Path) -> None:
    """`--set workers` is a bad command line (64), not a bad configuration (78)."""
    sock = str(tmp_path / "s.sock")
    config = tmp_path / "brewd.toml"
    config.write_text(f'[control]\nsocket = "{sock}"\n')
    result = run_brewd("run", "--config", str(config), "--set", "workers", env=clean_env())
    assert result.returncode == 64, result.stderr
    assert result.stderr == "brewd: usage error: --set 'workers': expected SECTION.KEY=VALUE\n"
    assert not os.path.exists(sock)


@pytest.mark.parametrize("kind", ["missing", "directory", "unreadable"])
def test_unreadable_config_file_exits_78_naming_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "brewd.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "unreadable":
        path.write_bytes(b"\xff\xfe not utf-8 \x00")
    result = run_brewd("run", "--config", str(path), env=clean_env())
    assert result.returncode == 78, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert str(path) in result.stderr
