"""brewctl's command line: options anywhere, the socket from the environment, usage errors."""

from __future__ import annotations

import pytest

from brewd.cli import brewctl as cli
from brewd.cli.client import DEFAULT_SOCKET, Reply
from brewd.control.trigger import OUTCOME_HTTP


def parse(*argv: str, environ: dict[str, str] | None = None) -> object:
    return cli.build_parser(environ or {}).parse_args(list(argv))


def test_socket_defaults_to_run_brewd_then_the_environment() -> None:
    assert parse("status").socket == DEFAULT_SOCKET  # type: ignore[attr-defined]
    env = {"BREWD_CONTROL_SOCKET": "/tmp/b.sock"}
    assert parse("status", environ=env).socket == "/tmp/b.sock"  # type: ignore[attr-defined]


def test_socket_and_json_go_before_or_after_the_command() -> None:
    before = parse("--socket", "/a", "--json", "history", "expirePokes")
    after = parse("history", "expirePokes", "--socket", "/b", "--json", "-n", "5")
    assert (before.socket, before.json, before.n) == ("/a", True, 20)  # type: ignore[attr-defined]
    assert (after.socket, after.json, after.n) == ("/b", True, 5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["trigger"], ["history", "x", "-n", "0"], ["history", "x", "-n", "1001"],
     ["history", "x", "-n", "many"], ["status", "--bogus"], ["history", "x", "-n", "٣"],
     ["history", "x", "-n", "9" * 5000], ["history", "x", "-n", "0" * 30 + "5"],
     ["status", "extra"],
     ["runs", "x", "-n", "0"], ["runs", "a", "b"], ["watch", "-n", "0"], ["watch", "-n", "x"],
     ["watch", "--interval", "3601"], ["logs"], ["logs", "x", "--run", "0"],
     ["logs", "x", "--run", "one"]],
)  # fmt: skip
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv, environ={})
    assert exit_info.value.code == cli.EXIT_USAGE == 2
    assert "usage: brewctl" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["status"], ["trigger"], ["history"], ["pause"]])
def test_help_everywhere_lists_the_exit_codes(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"], environ={})
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--socket PATH" in out
    assert "6  daemon unreachable" in out


def test_exit_codes_are_distinct() -> None:
    codes = [cli.EXIT_OK, cli.EXIT_JOB_FAILED, cli.EXIT_USAGE, cli.EXIT_UNKNOWN_JOB,
             cli.EXIT_ALREADY_RUNNING, cli.EXIT_PERMISSION_DENIED, cli.EXIT_UNREACHABLE,
             cli.EXIT_DAEMON_ERROR]  # fmt: skip
    assert len(set(codes)) == len(codes)


def test_unreachable_socket_is_exit_6_naming_the_path_and_the_cause(
    tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    path = f"{tmp_path}/absent.sock"
    assert cli.main(["status", "--socket", path], environ={}) == cli.EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert f"no control socket at {path}" in err
    assert "brewd is not running" in err


def test_a_failed_run_is_exit_1_but_the_daemons_own_500_is_exit_7() -> None:
    failed_run = Reply(500, {"id": 7, "status": "failed", "error": "boom"}, b"")
    internal = Reply(500, {"error": "internal error (logged by the daemon)"}, b"")
    assert cli.exit_code("trigger", failed_run) == cli.EXIT_JOB_FAILED
    assert cli.exit_code("trigger", internal) == cli.EXIT_DAEMON_ERROR
    assert cli.exit_code("status", internal) == cli.EXIT_DAEMON_ERROR


@pytest.mark.parametrize(
    ("outcome", "exit_status"),
    [
        ("succeeded", cli.EXIT_OK),
        ("failed", cli.EXIT_JOB_FAILED),
        ("skipped", cli.EXIT_ALREADY_RUNNING),
    ],
)
def test_a_triggered_runs_outcome_reaches_brewctls_exit_status(
    outcome: str, exit_status: int
) -> None:
    """The two mappings of a trigger, end to end: outcome -> HTTP (control/trigger.py) ->
    exit status (brewctl's HTTP_EXIT); a skipped run overlapped another: "already running"."""
    reply = Reply(OUTCOME_HTTP[outcome], {"id": 7, "status": outcome}, b"")
    assert cli.exit_code("trigger", reply) == exit_status


def test_watch_interval_and_logs_options() -> None:
    watch = parse("watch", "--interval", "0.5")
    assert watch.interval == 0.5  # type: ignore[attr-defined]
    assert parse("watch").interval == 2.0  # type: ignore[attr-defined]
    logs = parse("logs", "expireUsers", "--run", "7", "-f")
    assert (logs.job, logs.run, logs.follow, logs.unit) == ("expireUsers", 7, True, "brewd")  # type: ignore[attr-defined]
    assert parse("runs").job is None  # type: ignore[attr-defined]
