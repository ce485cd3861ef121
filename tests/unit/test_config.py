"""Configuration: precedence, coercion, and one clear line for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from brewd.cli.brewd import EX_CONFIG, main
from brewd.cli.settings import load
from brewd.core.config import JOB_DEFAULTS, effective_values, mask_url
from brewd.core.errors import ConfigError

NO_FILE = "/nonexistent/brewd.toml"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "brewd.toml"
    path.write_text(text)
    return str(path)


def test_defaults_match_the_spec() -> None:
    config = load_defaults()
    assert {name: job.schedule for name, job in config.jobs.items()} == dict(JOB_DEFAULTS)
    assert config.scheduler.enabled is True
    assert config.proactive.enabled is False
    assert config.scheduler.timezone == "UTC"
    assert config.database.pool_max_size == 20
    assert config.pokes.retention_days == 8
    assert all(job.timeout == 600 for job in config.jobs.values())


def load_defaults():
    from brewd.cli.settings import _build, _validate

    config = _build({})
    _validate(config)
    return config


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[scheduler]\ntimezone = "Europe/Paris"\nworkers = 3\n'
        '[jobs.expirePokes]\nschedule = "*/10 * * * *"\ntimeout = "2m"\n',
    )
    env = {"BREWD_SCHEDULER_WORKERS": "5", "LOG_LEVEL": "debug"}
    config = load(path, env, {"scheduler.workers": "7"})
    assert config.scheduler.timezone == "Europe/Paris"  # file
    assert config.scheduler.workers == 7  # flag beats env beats file
    assert config.logging.level == "debug"  # legacy env name
    assert config.jobs["expirePokes"].schedule == "*/10 * * * *"
    assert config.jobs["expirePokes"].timeout == 120.0
    assert config.jobs["expireUsers"].schedule == "0 * * * *"  # untouched default
    assert config.source == path


def test_env_per_job_and_legacy_names(tmp_path: Path) -> None:
    env = {
        "BREWD_CONFIG": NO_FILE.replace("nonexistent", "tmp"),
        "BREWD_JOBS_EXPIREPOKES_ENABLED": "no",
        "ENABLE_SCHEDULER": "FALSE",
        "ENABLE_PROACTIVE_MESSAGES": "Yes",
        "DATABASE_URL": "postgresql://brewd:s3cret@db/brewd",
        "ANTHROPIC_API_KEY": "sk-ant-test",
    }
    with pytest.raises(ConfigError, match="not found"):
        load(None, env)  # an explicitly named file must exist
    del env["BREWD_CONFIG"]
    config = load(write(tmp_path, ""), env)
    assert config.jobs["expirePokes"].enabled is False
    assert config.scheduler.enabled is False
    assert config.proactive.enabled is True
    assert config.proactive.api_key == "sk-ant-test"


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "Yes"])
def test_boolean_true_spellings(value: str, tmp_path: Path) -> None:
    assert load(write(tmp_path, ""), {"ENABLE_SCHEDULER": value}).scheduler.enabled is True


@pytest.mark.parametrize(
    ("toml", "env", "needle"),
    [
        ("", {"ENABLE_SCHEDULER": "maybe"}, "scheduler.enabled = 'maybe' (ENABLE_SCHEDULER)"),
        ('[scheduler]\ntimezone = "Mars/Olympus"\n', {}, "scheduler.timezone"),
        ('[jobs.expireUsers]\nschedule = "61 * * * *"\n', {}, "jobs.expireUsers.schedule"),
        ('[jobs.expireUsers]\nschedule = "* * *"\n', {}, "five-field"),
        ("[scheduler]\ncolour = 1\n", {}, "scheduler.colour"),
        ("[nonsense]\nx = 1\n", {}, "[nonsense]"),
        ('[jobs.fooBar]\nschedule = "* * * * *"\n', {}, "jobs.fooBar"),
        ('[scheduler]\nworkers = "many"\n', {}, "scheduler.workers"),
        ("[scheduler]\nworkers = 0\n", {}, "scheduler.workers"),
        ("[pokes]\nretention_days = 6\n", {}, "pokes.retention_days"),
        ('[logging]\nlevel = "loud"\n', {}, "logging.level"),
        ("[scheduler\n", {}, "not valid TOML"),
        ("scheduler = 3\n", {}, "must be a table"),
        ("", {"BREWD_JOBS_NOPE_SCHEDULE": "* * * * *"}, "BREWD_JOBS_NOPE_SCHEDULE"),
        ("", {"BREWD_SCHEDULER_BOGUS": "1"}, "scheduler.bogus"),
        ('[jobs.expireUsers]\ntimeout = "soon"\n', {}, "jobs.expireUsers.timeout"),
        ('[proactive]\nover_budget = "drop"\n', {}, "proactive.over_budget"),
        ("", {"BREWD_PROACTIVE_REQUESTS_PER_MINUTE": "-1"}, "proactive.requests_per_minute"),
        ("[proactive]\nbudget_nodes = 0\n", {}, "proactive.budget_nodes"),
    ],
)
def test_bad_configuration_names_the_key(
    toml: str, env: dict[str, str], needle: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as info:
        load(write(tmp_path, toml), env)
    message = str(info.value)
    assert needle in message
    assert "\n" not in message


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "brewd.toml"
    path.mkdir()  # a directory cannot be read as a file
    with pytest.raises(ConfigError, match="cannot read"):
        load(str(path), {})


def test_secrets_never_shown(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://brewd:hunter2@db:5432/brewd",
        "REDIS_URL": "redis://:redispass@cache:6379/0",
        "ANTHROPIC_API_KEY": "sk-ant-verysecret",
    }
    config = load(write(tmp_path, ""), env)
    shown = repr(config) + str(effective_values(config))
    for secret in ("hunter2", "redispass", "sk-ant-verysecret"):
        assert secret not in shown
    assert mask_url(env["DATABASE_URL"]) == "postgresql://brewd:***@db:5432/brewd"


def test_check_config_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[scheduler]\ntimezone = "Asia/Tokyo"\n')
    env = {"ANTHROPIC_API_KEY": "sk-ant-zzz", "DATABASE_URL": "postgresql://u:pw9@h/d"}
    assert main(["check-config", "--config", path], env) == 0
    out = capsys.readouterr().out
    assert "scheduler.timezone = Asia/Tokyo" in out
    assert "sk-ant-zzz" not in out
    assert "pw9" not in out


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--set", "jobs.expireUsers.schedule=bad cron here x"], {}),
        ([], {"ENABLE_SCHEDULER": "maybe"}),
        (["--set", "scheduler.timezone=Nowhere/Land"], {}),
        (["--set", "scheduler.unknown=1"], {}),
    ],
)
def test_check_config_exits_78_with_one_line(
    args: list[str], env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "")
    assert main(["check-config", "--config", path, *args], env) == EX_CONFIG
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("brewd: configuration error:")


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("scheduler.workers=" + "9" * 5000, "expected a whole number"),
        ("scheduler.workers=99999999999999", "expected a whole number"),
        ("scheduler.workers=1000000000001", "at most 1,000,000,000,000"),
        ("scheduler.shutdown_timeout=" + "9" * 400, "expected a duration"),
        ("scheduler.shutdown_timeout=99999999999d", "at most ten years"),
    ],
)
def test_numbers_are_bounded_before_conversion(
    setting: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 400 nines made an infinite timeout that passed validation."""
    assert main(["check-config", "--config", "/dev/null", "--set", setting], {}) == EX_CONFIG
    err = capsys.readouterr().err
    assert problem in err
    assert len(err) < 250  # the value is cut short, the line stays readable


def test_an_infinite_duration_in_the_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at most ten years"):
        load(write(tmp_path, "[proactive]\ntimeout = inf\n"), {})
