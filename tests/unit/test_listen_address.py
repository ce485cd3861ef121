"""http.listen: the addresses an operator writes, and one actionable line for the rest."""

from __future__ import annotations

import pytest

from brewd.cli.settings import load
from brewd.control.address import ListenAddress, parse_listen
from brewd.core.errors import ConfigError

NO_FILE = "/dev/null"  # an empty configuration file: defaults


@pytest.mark.parametrize(
    ("value", "expected", "loopback"),
    [
        ("127.0.0.1:3000", ListenAddress("127.0.0.1", 3000), True),
        ("[::1]:3000", ListenAddress("::1", 3000), True),
        ("localhost:9464", ListenAddress("localhost", 9464), True),
        ("0.0.0.0:3000", ListenAddress("0.0.0.0", 3000), False),
        ("[::]:3000", ListenAddress("::", 3000), False),
        ("brewd-1.internal:3000", ListenAddress("brewd-1.internal", 3000), False),
    ],
)
def test_good_addresses(value: str, expected: ListenAddress, loopback: bool) -> None:
    assert parse_listen(value) == expected
    assert parse_listen(value).is_loopback is loopback
    assert str(parse_listen(value)) == value


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("3000", "expected host:port"),
        (":3000", "expected host:port"),
        ("", "expected host:port"),
        ("::1:3000", "goes in brackets"),
        ("[nope]:3000", "not an IPv6 address"),
        ("127.0.0.1:0", "1 to 65535"),
        ("127.0.0.1:65536", "1 to 65535"),
        ("127.0.0.1:http", "1 to 65535"),
        ("999.1.1.1:3000", "not an IP address or host name"),
        ("bad host:3000", "not an IP address or host name"),
    ],
)
def test_bad_addresses_say_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_listen(value)


def test_off_by_default_and_empty_means_off() -> None:
    assert load(NO_FILE, environ={}).http.listen is None
    assert load(NO_FILE, environ={"BREWD_HTTP_LISTEN": ""}).http.listen is None
    env = {"BREWD_HTTP_LISTEN": "[::1]:3000"}
    assert load(NO_FILE, environ=env).http.listen == "[::1]:3000"


def test_a_bad_value_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^http.listen = '127.0.0.1': expected host:port"):
        load(NO_FILE, environ={"BREWD_HTTP_LISTEN": "127.0.0.1"})
