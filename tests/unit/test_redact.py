"""Secret masking: passwords in URLs and conninfo, API keys, and what reaches the log sinks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from loguru import logger

from brewd.adapters.logs import register_secrets, setup_logging
from brewd.cli.check_config import render
from brewd.cli.settings import load, load_explained
from brewd.core.config import SECRET_KEYS, WHOLE_SECRET_KEYS, LoggingConfig, env_name
from brewd.core.masking import passwords_in
from brewd.core.redact import Redactor, secret_values, secrets_from_environ

pytestmark = pytest.mark.usefixtures("fresh_loguru")

DB_URL = "postgresql://brewd:Pa%40ss-w0rd@db.internal:5432/brewd"
PASSWORD = "Pa@ss-w0rd"  # DB_URL's, decoded; tracebacks print source lines, so no literal
KEY = "sk-ant-api03-abcdefghijklmnop"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (DB_URL, {"Pa%40ss-w0rd", "Pa@ss-w0rd"}),
        ("redis://:r3dis-pw@cache:6379/0", {"r3dis-pw"}),
        ("postgresql://db/brewd?user=brewd&password=q-secret", {"q-secret"}),
        ("host=db user=brewd password=plainpw dbname=brewd", {"plainpw"}),
        ("host=db password = 'with space\\'s' dbname=brewd", {"with space's"}),
        ("postgresql://brewd@db/brewd", set()),
        ("host=db dbname=brewd", set()),
        ("", set()),
    ],
)
def test_passwords_in(url: str, expected: set[str]) -> None:
    assert passwords_in(url) == expected


def test_secrets_from_environ() -> None:
    environ = {
        "DATABASE_URL": DB_URL,
        "REDIS_URL": "redis://:r3dis-pw@cache:6379/0",
        "ANTHROPIC_API_KEY": KEY,
        "PGPASSWORD": "libpq-pw",
        "LOG_LEVEL": "info",
    }
    assert secrets_from_environ(environ) == {
        "Pa%40ss-w0rd",
        "Pa@ss-w0rd",
        "r3dis-pw",
        KEY,
        "libpq-pw",
    }


def test_secret_values_of_a_config() -> None:
    config = load(None, {"DATABASE_URL": DB_URL, "ANTHROPIC_API_KEY": KEY})
    assert secret_values(config) == {"Pa%40ss-w0rd", "Pa@ss-w0rd", KEY}


def test_mask_replaces_every_occurrence_longest_first() -> None:
    redactor = Redactor()
    redactor.add(["abcd", "abcdefgh"])
    assert redactor.mask("abcdefgh and abcd and abcdx") == "*** and *** and ***x"


def test_too_short_values_are_not_masked() -> None:
    redactor = Redactor()
    redactor.add(["a", "pw", ""])
    assert redactor.mask("a pw passes") == "a pw passes"


def test_log_records_are_masked_everywhere(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggingConfig(level="info"), {"DATABASE_URL": DB_URL})
    logger.bind(job="j", dsn=DB_URL).info("connecting to {}", DB_URL)
    try:
        try:
            raise ConnectionError(f"auth failed for {PASSWORD}")
        except ConnectionError as exc:
            raise RuntimeError(f"cannot open {DB_URL}") from exc
    except RuntimeError:
        logger.exception("pool failed")
    logging.getLogger("psycopg").warning("retrying %s", DB_URL)
    err = capfd.readouterr().err
    assert "Pa%40ss-w0rd" not in err
    assert "Pa@ss-w0rd" not in err
    assert "connecting to postgresql://brewd:***@db.internal:5432/brewd" in err
    assert "ConnectionError: auth failed for ***" in err
    assert "RuntimeError: cannot open postgresql://brewd:***@db.internal:5432/brewd" in err
    assert "retrying postgresql://brewd:***@db.internal" in err


def test_secrets_only_in_the_config_file_are_masked_once_registered(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "brewd.toml"
    path.write_text(f'[proactive]\napi_key = "{KEY}"\n')
    config = load(str(path), {})
    setup_logging(config.logging, {})
    logger.info("key {}", KEY)
    register_secrets(config)
    logger.info("key {}", KEY)
    lines = capfd.readouterr().err.splitlines()
    assert lines[0].endswith(f"key {KEY}")  # before registration: nothing knew it
    assert lines[1].endswith("key ***")


def test_unmasked_exceptions_are_left_alone(capfd: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggingConfig(level="info"), {"ANTHROPIC_API_KEY": KEY})
    try:
        raise KeyError("nothing secret")
    except KeyError:
        logger.exception("lookup failed")
    assert "KeyError: 'nothing secret'" in capfd.readouterr().err


def test_the_secret_settings_are_the_fields_marked_secret() -> None:
    # The field metadata is the one list: losing the mark on one of these would unmask it.
    assert {"database.url", "redis.url", "proactive.api_key", "proactive.base_url"} == SECRET_KEYS
    assert {"proactive.api_key"} == WHOLE_SECRET_KEYS


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
def test_every_secret_setting_is_masked_wherever_it_shows(key: str) -> None:
    # A value each secret setting accepts, holding the secret "s3cr3t-pw" (whole or inside).
    value = {
        "database.url": "postgresql://u:s3cr3t-pw@db/brewd",
        "redis.url": "redis://:s3cr3t-pw@cache:6379/0",
        "proactive.api_key": "s3cr3t-pw",
        "proactive.base_url": "https://u:s3cr3t-pw@proxy.example",
    }[key]
    environ = {env_name(key): value}
    loaded = load_explained(None, environ)
    assert secret_values(loaded.config) >= {"s3cr3t-pw"}
    assert secrets_from_environ(environ) >= {"s3cr3t-pw"}
    report = render(loaded, environ)
    assert f"{key} = " in report
    assert "s3cr3t-pw" not in report
