"""brewctl runs, logs and _jobs as subprocesses: the command lines and outputs a script sees."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

from brewd.cli.client import ControlClient
from brewd.cli.glance import BUILTIN_JOBS
from tests.acceptance.test_brewctl import BREWCTL, StartDaemon, start_daemon  # noqa: F401

FAKE_JOURNALCTL = """#!/bin/sh
# Records its argv, one argument a line, and exits like journalctl with no entries.
for arg in "$0" "$@"; do printf '%s\\n' "$arg"; done > "$ARGV_FILE"
"""


def fake_journalctl(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "journalctl"
    script.write_text(FAKE_JOURNALCTL)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir


def run_logs(
    tmp_path: Path, path: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    argv_file = tmp_path / "argv"
    env = {"PATH": path, "ARGV_FILE": str(argv_file)}
    done = subprocess.run(
        [BREWCTL, "logs", *args], env=env, capture_output=True, text=True, timeout=60
    )
    return done, argv_file


def test_logs_execs_journalctl_with_the_jobs_fields_and_passes_the_rest_on(
    tmp_path: Path,
) -> None:
    bindir = fake_journalctl(tmp_path)
    done, argv = run_logs(
        tmp_path, f"{bindir}:/usr/bin:/bin", "expireUsers", "--run", "42", "-f", "--since",
        "today", "-o", "verbose",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert argv.read_text().splitlines() == [
        str(bindir / "journalctl"), "-u", "brewd", "BREWD_JOB=expireUsers", "BREWD_RUN_ID=42",
        "-f", "--since", "today", "-o", "verbose",
    ]  # fmt: skip


def test_logs_without_a_run_and_another_unit(tmp_path: Path) -> None:
    bindir = fake_journalctl(tmp_path)
    done, argv = run_logs(tmp_path, str(bindir), "expirePokes", "--unit", "brewd-b")
    assert done.returncode == 0, done.stderr
    assert argv.read_text().splitlines()[1:] == ["-u", "brewd-b", "BREWD_JOB=expirePokes"]


def test_logs_of_an_unknown_job_is_exit_3_and_runs_nothing(tmp_path: Path) -> None:
    bindir = fake_journalctl(tmp_path)
    done, argv = run_logs(tmp_path, str(bindir), "brewCoffee")
    assert done.returncode == 3
    assert "unknown job 'brewCoffee'" in done.stderr
    assert not argv.exists()


def test_logs_bad_run_id_is_a_usage_error(tmp_path: Path) -> None:
    bindir = fake_journalctl(tmp_path)
    done, argv = run_logs(tmp_path, str(bindir), "expireUsers", "--run", "x")
    assert done.returncode == 2
    assert "must be a run id" in done.stderr
    assert not argv.exists()


def test_logs_without_journalctl_is_exit_127_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done, _ = run_logs(tmp_path, str(tmp_path / "empty"), "expireUsers")
    assert done.returncode == 127
    assert done.stderr.startswith("brewctl: journalctl not found")
    assert len(done.stderr.splitlines()) == 1


def brewctl(sock: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "BREWD_CONTROL_SOCKET": sock, "TZ": "UTC"}
    return subprocess.run([BREWCTL, *args], env=env, capture_output=True, text=True, timeout=60)


def test_runs_draws_every_job_and_json_is_the_apis_answers(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
) -> None:
    sock = start_daemon(pg_dsn)
    for _ in range(3):
        assert brewctl(sock, "trigger", "expirePokes").returncode == 0
    overview = brewctl(sock, "runs")
    assert overview.returncode == 0, overview.stderr
    lines = overview.stdout.splitlines()
    assert lines[0].split()[:3] == ["JOB", "RUNS", "FAILED"]
    pokes = next(line for line in lines if line.startswith("expirePokes"))
    assert pokes.split()[1:3] == ["3", "0"]
    assert len(pokes.split()[-1]) == 3  # a sparkline of three runs
    assert set(pokes.split()[-1]) <= set("▁▂▃▄▅▆▇█")
    assert "\x1b[" not in overview.stdout  # not a terminal: no colour

    one = brewctl(sock, "runs", "expirePokes", "-n", "2")
    assert one.returncode == 0
    rows = one.stdout.splitlines()[1:3]
    assert all(row.split()[0].isdigit() and row.split()[-1].strip("█▏▎▍▌▋▊▉") == "" for row in rows)

    as_json = json.loads(brewctl(sock, "runs", "--json", "-n", "5").stdout)
    client = ControlClient(sock)
    assert (
        as_json["expirePokes"]
        == client.request("GET", "/api/scheduler/jobs/expirePokes/runs", {"limit": "5"}).body
    )
    assert set(as_json) == set(BUILTIN_JOBS)
    single = json.loads(brewctl(sock, "runs", "expirePokes", "--json").stdout)
    assert single == as_json["expirePokes"][:20]

    assert brewctl(sock, "runs", "brewCoffee").returncode == 3


def test_job_names_for_completion_come_from_the_daemon_or_the_builtin_six(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    sock = start_daemon(pg_dsn)
    answered = brewctl(sock, "_jobs")
    status = ControlClient(sock).request("GET", "/api/scheduler/status").body
    assert answered.stdout.split() == [job["name"] for job in status["jobs"]]
    nobody = brewctl(str(tmp_path / "none.sock"), "_jobs")
    assert (nobody.returncode, nobody.stdout.split()) == (0, list(BUILTIN_JOBS))
    assert "_jobs" not in brewctl(sock, "--help").stdout


def test_watch_piped_appends_plain_frames_and_ends_0_on_sigint(
    start_daemon: StartDaemon,  # noqa: F811
    pg_dsn: str,
) -> None:
    sock = start_daemon(pg_dsn)
    env = {"PATH": os.environ["PATH"], "BREWD_CONTROL_SOCKET": sock, "TZ": "UTC"}
    watch = subprocess.Popen(
        [BREWCTL, "watch", "-n", "0.1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert watch.stdout is not None
    seen = b""
    while seen.count(b"6 jobs listed") < 2:
        line = watch.stdout.readline()
        assert line, watch.stderr.read() if watch.stderr else "watch ended"
        seen += line
    watch.send_signal(signal.SIGINT)
    rest, err = watch.communicate(timeout=30)
    assert watch.returncode == 0
    assert err == b""  # no traceback
    assert b"\x1b[" not in seen + rest  # not a terminal: no redraw, no colour
