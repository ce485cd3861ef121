"""brewctl's interactive views in a real terminal (tmux): what a person sees, keys and all."""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brewd.cli.client import ControlClient
from tests.acceptance.terminal import Terminal
from tests.acceptance.test_brewctl import BREWCTL, StartDaemon, start_daemon  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing")
COMPLETION = Path(__file__).resolve().parents[2] / "packaging" / "completion"
HEADER = re.compile(r"Every 0\.5s: brewctl status .*(\d\d:\d\d:\d\d)")


@pytest.fixture
def terminal() -> Iterator[Callable[..., Terminal]]:
    made: list[Terminal] = []

    def open_terminal(socket: str, shell: tuple[str, ...] = ("bash", "--norc", "--noprofile")):
        env = {
            "PATH": f"{Path(BREWCTL).parent}:/usr/bin:/bin",
            "BREWD_CONTROL_SOCKET": socket,
            "TERM": "xterm-256color",
            "TZ": "UTC",
            "LANG": "C.UTF-8",
            "PS1": "$ ",
            "HOME": os.environ.get("HOME", "/tmp"),
        }
        made.append(Terminal(list(shell), env))
        return made[-1]

    yield open_terminal
    for term in made:
        term.close()


def exit_status(screen: str) -> str | None:
    """The `echo exit=$?` output after the command (the typed line shows `exit=$?`)."""
    found = re.findall(r"^exit=(\d+)$", screen, re.M)
    return found[-1] if found else None


def times_shown(screen: str) -> list[str]:
    return HEADER.findall(screen)


def test_watch_redraws_in_place_follows_the_daemon_and_exits_0_on_ctrl_c(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
    terminal: Callable[..., Terminal],
) -> None:
    sock = start_daemon(pg_dsn)
    term = terminal(sock)
    term.run("brewctl watch -n 0.5; echo exit=$?")
    first = term.wait_for("6 jobs listed", what="the status table")
    assert first.count("NEXT") == 1  # one table on screen, not one per refresh
    [shown] = times_shown(first)
    term.wait_for(lambda s: times_shown(s) not in ([shown], []), what="a refresh")

    ControlClient(sock).request("POST", "/api/scheduler/trigger/expirePokes", wait=True)
    updated = term.wait_for(
        lambda s: re.search(r"succeeded\s+expirePokes", s) is not None, what="the run shown"
    )
    assert updated.count("NEXT") == 1

    term.press("C-c")
    done = term.wait_for(exit_status, what="watch to end")
    assert exit_status(done) == "0"
    assert "Traceback" not in done
    assert done.count("NEXT") == 1  # the last table stays on screen


def test_watch_says_why_while_the_daemon_is_away_and_keeps_trying(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
    terminal: Callable[..., Terminal],
) -> None:
    sock = start_daemon(pg_dsn)
    node = ControlClient(sock).request("GET", "/api/scheduler/status").body["node"]
    term = terminal(sock)
    term.run("brewctl watch -n 0.5; echo exit=$?")
    term.wait_for("6 jobs listed")
    os.kill(int(node.rsplit(":", 1)[1]), signal.SIGTERM)  # the daemon this test started
    away = term.wait_for("retrying every 0.5s", what="the daemon-away line")
    [line] = [text for text in away.splitlines() if text.startswith("brewctl:")]
    assert sock in line
    assert "NEXT" not in away
    term.press("C-c")
    assert exit_status(term.wait_for(exit_status)) == "0"


def test_runs_in_a_terminal_draws_sparklines_and_bars(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
    terminal: Callable[..., Terminal],
) -> None:
    sock = start_daemon(pg_dsn)
    client = ControlClient(sock)
    for _ in range(4):
        client.request("POST", "/api/scheduler/trigger/expirePokes", wait=True)
    term = terminal(sock)
    term.run("brewctl runs; echo exit=$?")
    screen = term.wait_for(exit_status)
    assert exit_status(screen) == "0"
    pokes = next(line for line in screen.splitlines() if line.startswith("expirePokes"))
    assert re.fullmatch(r"expirePokes\s+4\s+0\s+.*\s[▁▂▃▄▅▆▇█]{4}", pokes), pokes

    term.run("clear; brewctl runs expirePokes; echo exit=$?")
    screen = term.wait_for(lambda s: exit_status(s) and "bars:" in s)
    rows = [line for line in screen.splitlines() if "manual" in line]
    assert len(rows) == 4
    assert all(re.search(r"succeeded\s+\S+\s+[█▏▎▍▌▋▊▉]+$", row) for row in rows), rows


@pytest.mark.parametrize(
    "shell",
    [
        ("bash", "--norc", "--noprofile"),
        pytest.param(
            ("zsh", "-f"), marks=pytest.mark.skipif(not shutil.which("zsh"), reason="zsh missing")
        ),
    ],
    ids=["bash", "zsh"],
)
def test_tab_completes_commands_options_and_the_daemons_job_names(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
    terminal: Callable[..., Terminal],
    shell: tuple[str, ...],
) -> None:
    sock = start_daemon(pg_dsn)
    term = terminal(sock, shell)
    if shell[0] == "bash":
        term.run(f"source {COMPLETION}/brewctl.bash")
    else:
        term.run(f"fpath=({COMPLETION} $fpath); autoload -Uz compinit; compinit -u; PS1='$ '")
    term.run("clear")
    term.wait_for(lambda s: s.strip() == "$")
    term.type("brewctl tri")
    term.press("Tab")
    term.wait_for("$ brewctl trigger", what="the command completed")
    term.type("--no-")  # right after the completed word: only works if a space was added
    term.press("Tab")
    term.wait_for("$ brewctl trigger --no-wait", what="the option completed")
    term.type("aggr")
    term.press("Tab")
    term.wait_for("$ brewctl trigger --no-wait aggregateAnalytics", what="the job completed")
