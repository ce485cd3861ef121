"""Every form of secret the configuration accepts, masked in every output that shows it:
check-config, the log (message, bound values, exception text), configuration errors, and the
health report's error strings. Each form carries a unique token, searched for in each output."""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from brewd.adapters.logs import register_secrets, setup_logging
from brewd.cli.brewd import main
from brewd.cli.settings import load
from brewd.control.service import _probe
from brewd.core.masking import mask_secrets, passwords_in

pytestmark = pytest.mark.usefixtures("fresh_loguru")

# (form, environment, the secret as it appears in the value, its distinctive token)
FORMS: list[tuple[str, dict[str, str], str, str]] = [
    ("URI user:password@", {"DATABASE_URL": "postgresql://brewd:Pw-uri-1111@db/brewd"},
     "Pw-uri-1111", "1111"),
    ("URI ?password=", {"DATABASE_URL": "postgresql://db/brewd?user=u&password=Pw-query-2222"},
     "Pw-query-2222", "2222"),
    ("URI percent-encoded", {"DATABASE_URL": "postgresql://brewd:Pw%2Fenc%40aaaa@db/brewd"},
     "Pw/enc@aaaa", "aaaa"),
    ("key=value", {"DATABASE_URL": "host=db user=brewd password=Pw-kv-3333 dbname=brewd"},
     "Pw-kv-3333", "3333"),
    ("key=value quoted", {"DATABASE_URL": "host=db password='Pw kv\\'4444' dbname=brewd"},
     "Pw kv'4444", "4444"),
    ("key=value spaced", {"DATABASE_URL": "host=db password = Pw-sp-4545 dbname=brewd"},
     "Pw-sp-4545", "4545"),
    ("REDIS_URL ?password=", {"REDIS_URL": "redis://cache:6379/0?password=Rd-query-5555"},
     "Rd-query-5555", "5555"),
    ("REDIS_URL user:pass@", {"REDIS_URL": "redis://default:Rd-user-6666@cache:6379/0"},
     "Rd-user-6666", "6666"),
    ("base_url user:password@", {"ANTHROPIC_BASE_URL": "https://proxy:Bu-pass-7777@llm.internal"},
     "Bu-pass-7777", "7777"),
    ("DB_PASSWORD", {"DB_HOST": "db", "DB_PASSWORD": "Db-env-8888"}, "Db-env-8888", "8888"),
    ("REDIS_PASSWORD", {"REDIS_HOST": "cache", "REDIS_PASSWORD": "Rd-env-9999"},
     "Rd-env-9999", "9999"),
    ("API key", {"ANTHROPIC_API_KEY": "sk-ant-Key-0000"}, "sk-ant-Key-0000", "0000"),
    ("PGPASSWORD", {"PGPASSWORD": "Pg-env-1212"}, "Pg-env-1212", "1212"),
]  # fmt: skip
IDS = [form[0] for form in FORMS]


@pytest.mark.parametrize(("form", "environ", "secret", "token"), FORMS, ids=IDS)
def test_check_config(
    form: str, environ: dict[str, str], secret: str, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", "--config", "/dev/null"], environ) == 0
    out = capsys.readouterr().out
    assert token not in out


@pytest.mark.parametrize(("form", "environ", "secret", "token"), FORMS, ids=IDS)
def test_configuration_errors(
    form: str, environ: dict[str, str], secret: str, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check-config", "--config", "/dev/null", "--set", "scheduler.workers=0"]
    assert main(argv, environ) == 78
    assert token not in capsys.readouterr().err


@pytest.mark.parametrize(("form", "environ", "secret", "token"), FORMS, ids=IDS)
def test_logs(
    form: str,
    environ: dict[str, str],
    secret: str,
    token: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    config = load("/dev/null", environ)
    setup_logging(config.logging, environ)
    register_secrets(config)
    logger.bind(dsn=secret).warning("connecting with {}", secret)
    try:
        raise ConnectionError(f"authentication failed with {secret}")
    except ConnectionError:
        logger.exception("pool failed")
    err = capfd.readouterr().err
    assert "connecting with ***" in err
    assert token not in err


@pytest.mark.parametrize(("form", "environ", "secret", "token"), FORMS, ids=IDS)
def test_health_report_errors(form: str, environ: dict[str, str], secret: str, token: str) -> None:
    config = load("/dev/null", environ)
    setup_logging(config.logging, environ)
    register_secrets(config)

    def ping() -> None:
        raise ConnectionError(f"cannot connect as {secret}")

    assert _probe(ping).error == "ConnectionError: cannot connect as ***"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:p@h1,h2:5433/d", "postgresql://u:***@h1,h2:5433/d"),
        ("postgresql://u:p@ss@h/d", "postgresql://u:***@h/d"),  # an unencoded @: all masked
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("redis://h/0?db=1&password=pw&x=1", "redis://h/0?db=1&password=***&x=1"),
        ("postgresql://h/d?sslpassword=k", "postgresql://h/d?sslpassword=***"),
        ("host=h sslpassword=k password='a b'", "host=h sslpassword=*** password=***"),
        ("host=h password='unterminated", "host=h password=***"),
        ("host=h password=a\\ b dbname=d", "host=h password=*** dbname=d"),
        ("https://api.anthropic.com", "https://api.anthropic.com"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
    ],
)
def test_mask_secrets(text: str, shown: str) -> None:
    assert mask_secrets(text) == shown


def test_passwords_in_unescapes_key_value_forms() -> None:
    assert passwords_in("password='it\\'s' x=1") == {"it's"}
    assert passwords_in("password=a\\ b") == {"a b"}
    assert passwords_in("redis://h/0?password=p%40w") == {"p%40w", "p@w"}


def test_a_bad_base_url_error_masks_its_password(tmp_path: Path) -> None:
    environ = {"ANTHROPIC_BASE_URL": "ftp://proxy:Bu-pass-7777@llm.internal"}
    with pytest.raises(Exception, match=r"ftp://proxy:\*\*\*@llm.internal") as error:
        load("/dev/null", environ)
    assert "7777" not in str(error.value)
