"""brewd's command line: usage errors exit 64 as its help says, and flags name their env vars."""

from __future__ import annotations

import pytest

from brewd import main as brewd_main


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["db"], ["plan", "--hours", "0"], ["plan", "--hours", "x"],
     ["check-config", "--bogus"]],
)  # fmt: skip
def test_usage_errors_exit_64(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        brewd_main.main(argv, environ={})
    assert exit_info.value.code == brewd_main.EX_USAGE == 64
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
