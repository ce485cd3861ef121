"""brewd's command line: usage errors exit 64 as its help says, and flags name their env vars."""

from __future__ import annotations

import pytest

from brewd.cli import brewd as brewd_main
from brewd.core.exits import EX_USAGE


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["db"], ["plan", "--hours", "0"], ["plan", "--hours", "x"],
     ["check-config", "--bogus"], ["plan", "--hours", "8761"], ["plan", "--hours", "100000"],
     ["plan", "--hours", "1000000000"], ["plan", "--hours", "9" * 5000]],
)  # fmt: skip
def test_usage_errors_exit_64(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        brewd_main.main(argv, environ={})
    assert exit_info.value.code == EX_USAGE == 64
    assert "usage: brewd" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["run"], ["db", "init"], ["plan"], ["check-config"]])
def test_each_command_describes_itself_and_names_the_env_vars(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        brewd_main.main([*command, "--help"], environ={})
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for env in ("BREWD_CONFIG", "LOG_LEVEL", "BREWD_CONTROL_SOCKET", "BREWD_SECTION_KEY"):
        assert f"(env {env}" in text
    assert "Exit status: 0 ok, 64 usage" in text


@pytest.mark.parametrize("item", ["nonsense", "foo=1", "=1", ".key=1", "section.=1", "x"])
def test_set_without_section_key_value_exits_64(
    item: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: 78, as if the configuration were wrong rather than the command line."""
    assert brewd_main.main(["check-config", "--config", "/dev/null", "--set", item], {}) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("brewd: usage error: --set")
    assert "expected SECTION.KEY=VALUE" in err


def test_set_of_an_unknown_key_is_a_configuration_error() -> None:
    assert brewd_main.main(["check-config", "--config", "/dev/null", "--set", "a.b=1"], {}) == 78


def test_plan_hours_error_is_one_short_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        brewd_main.main(["plan", "--hours", "9" * 5000], environ={})
    assert exit_info.value.code == 64
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.endswith("must be an integer from 1 to 8760 (a year)")
    assert len(error) < 150


def test_plan_hours_bounds() -> None:
    assert brewd_main._plan_hours("1") == 1
    assert brewd_main._plan_hours("8760") == 8760  # a year (measured: 5.7 s CPU, in the docs)
