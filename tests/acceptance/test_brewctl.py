"""brewctl as a subprocess against `python -m brewd run`: output and every exit code."""

from __future__ import annotations

import grp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import brewd
from brewd.cli import brewctl as cli
from brewd.cli.client import ControlClient, DaemonUnreachable
from brewd.jobs import ALL_JOBS
from brewd.runs.claims import LOCK_NAMESPACE, lock_key
from tests.helpers import wait_until

REPO = str(Path(brewd.__file__).resolve().parent.parent)
BREWCTL = str(Path(sys.executable).parent / "brewctl")
# brewctl imports only the standard library, so the system interpreter runs it for a second
# uid that cannot read the test's own interpreter (under /root).
AS_OTHER_USER = "from brewd.cli.brewctl import main; raise SystemExit(main())"


def _answers(path: str) -> bool:
    try:
        return ControlClient(path, timeout=5).request("GET", "/health").status in (200, 503)
    except DaemonUnreachable:
        return False


StartDaemon = Callable[..., str]


@pytest.fixture
def start_daemon(redis_url: str, tmp_path: Path) -> Iterator[StartDaemon]:
    """`brewd run` in a subprocess; returns its socket path (group nogroup, admin group root)."""
    processes: list[subprocess.Popen[bytes]] = []
    short = tempfile.mkdtemp(prefix="bctl", dir="/tmp")
    os.chmod(short, 0o755)  # the other uid must reach the socket

    def start(database_url: str, **env: str) -> str:
        sock = os.path.join(short, f"{len(processes)}.sock")
        environ = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ENABLE_SCHEDULER": "false",  # only the test's runs, unless it asks otherwise
            "BREWD_CONTROL_SOCKET": sock,
            "BREWD_CONTROL_GROUP": "nogroup",
            "BREWD_CONTROL_ADMIN_GROUP": "root",
            **env,
        }
        for name in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "BREWD_CONFIG"):
            environ.pop(name, None)
        with (tmp_path / f"daemon{len(processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "brewd", "run"], env=environ, stdout=log, stderr=log
            )
        processes.append(process)
        wait_until(lambda: _answers(sock) or process.poll() is not None, 30, "the socket")
        assert process.poll() is None, (tmp_path / f"daemon{len(processes) - 1}.log").read_text()
        return sock

    yield start
    for process in processes:
        process.terminate()
        process.wait(30)
    shutil.rmtree(short, ignore_errors=True)


def brewctl(
    socket: str, *args: str, user: str | None = None, group: str = "nogroup", tz: str = "UTC"
) -> Any:
    """Run brewctl; as `user` (with `group`) through the system interpreter if given."""
    if user is None:
        command, extra = [BREWCTL, *args], {}
    else:
        python = shutil.which("python3", path="/usr/bin:/bin")
        command = [str(python), "-c", AS_OTHER_USER, *args]
        extra = {"user": user, "group": group, "extra_groups": [], "cwd": "/"}
    env = {"BREWD_CONTROL_SOCKET": socket, "PYTHONPATH": REPO, "PATH": os.environ["PATH"], "TZ": tz}
    return subprocess.run(  # type: ignore[call-overload]
        command, env=env, capture_output=True, text=True, timeout=60, check=False, **extra
    )


def test_every_command_succeeds_with_exit_0(start_daemon: StartDaemon, pg_dsn: str) -> None:
    sock = start_daemon(pg_dsn)
    ok = brewctl(sock, "trigger", "expirePokes")
    assert ok.returncode == cli.EXIT_OK == 0, ok.stderr
    assert ok.stdout.startswith("expirePokes succeeded in ")
    assert ok.stdout.rstrip().endswith(")")  # "(run N)"

    history = brewctl(sock, "history", "expirePokes", "-n", "5")
    assert history.returncode == 0
    assert history.stdout.split("\n")[0].split() == [
        "RUN", "STARTED", "DURATION", "TRIGGER", "STATUS", "ATTEMPTS", "AFFECTED", "DETAILS",
    ]  # fmt: skip
    assert "manual" in history.stdout.split("\n")[1]

    as_json = brewctl(sock, "history", "expirePokes", "--json")
    api = ControlClient(sock).request(
        "GET", "/api/scheduler/jobs/expirePokes/runs", {"limit": "20"}
    )
    assert json.loads(as_json.stdout) == api.body
    assert (api.body[0]["attempts"], api.body[0]["last_error"]) == (1, None)

    started = brewctl(sock, "trigger", "calculateBadges", "--no-wait")
    assert (started.returncode, started.stdout.split()[:3]) == (
        0,
        ["calculateBadges", "started", "as"],
    )

    paused = brewctl(sock, "pause", "expireUsers")
    assert (paused.returncode, paused.stdout.split()[:2]) == (0, ["expireUsers", "paused"])
    resumed = brewctl(sock, "resume", "expireUsers")
    assert resumed.returncode == 0
    assert resumed.stdout.startswith("expireUsers resumed (no next run: ")


def test_each_failure_has_its_exit_code(
    start_daemon: StartDaemon, pg_dsn: str, pg: psycopg.Connection[dict[str, Any]]
) -> None:
    sock = start_daemon(pg_dsn)
    usage = brewctl(sock, "history", "expirePokes", "-n", "0")
    assert usage.returncode == cli.EXIT_USAGE == 2
    assert "usage: brewctl" in usage.stderr

    unknown = brewctl(sock, "trigger", "brewCoffee")
    assert unknown.returncode == cli.EXIT_UNKNOWN_JOB == 3
    assert "unknown job 'brewCoffee'" in unknown.stderr
    assert "expirePokes" in unknown.stderr  # the available jobs

    pg.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NAMESPACE, lock_key("expirePokes")))
    busy = brewctl(sock, "trigger", "expirePokes")
    pg.execute("SELECT pg_advisory_unlock_all()")
    assert busy.returncode == cli.EXIT_ALREADY_RUNNING == 4
    assert "already running" in busy.stderr

    pg.execute("DROP TABLE pokes CASCADE")
    failed = brewctl(sock, "trigger", "expirePokes")
    assert failed.returncode == cli.EXIT_JOB_FAILED == 1
    assert failed.stdout.startswith("expirePokes failed after ")
    assert "pokes" in failed.stdout


@pytest.mark.root
def test_another_user_reads_but_is_refused_changes_and_a_stranger_cannot_connect(
    start_daemon: StartDaemon, pg_dsn: str
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run brewctl as nobody")
    sock = start_daemon(pg_dsn)
    status = brewctl(sock, "status", user="nobody")
    assert status.returncode == 0, status.stderr
    assert status.stdout.split("\n")[0].split() == ["NEXT", "LEFT", "LAST", "STATUS", "JOB"]
    for command in (["trigger", "expirePokes"], ["pause", "expirePokes"]):
        denied = brewctl(sock, *command, user="nobody")
        assert denied.returncode == cli.EXIT_PERMISSION_DENIED == 5
        assert "permission denied" in denied.stderr
    # Not in the socket's group at all: the kernel refuses the connection itself.
    stranger = brewctl(sock, "status", user="nobody", group="users")
    assert stranger.returncode == cli.EXIT_UNREACHABLE == 6
    assert f"permission denied on {sock}" in stranger.stderr
    # The hint names the socket's real group (this daemon's is nogroup), not always brewd.
    group = grp.getgrgid(os.stat(sock).st_gid).gr_name
    assert f"join the group {group!r} (`sudo usermod -aG {group} $USER`" in stranger.stderr


def test_no_daemon_is_exit_6_naming_the_socket(tmp_path: Path) -> None:
    missing = str(tmp_path / "brewd.sock")
    result = brewctl(missing, "status")
    assert result.returncode == cli.EXIT_UNREACHABLE == 6
    assert f"no control socket at {missing}: brewd is not running" in result.stderr
    elsewhere = brewctl("/nonexistent.sock", "health", "--socket", missing)
    assert missing in elsewhere.stderr  # --socket wins over the environment


def test_health_of_a_daemon_without_its_database_is_exit_7(start_daemon: StartDaemon) -> None:
    sock = start_daemon("postgresql://postgres@127.0.0.1:9/brewd?connect_timeout=1")
    health = brewctl(sock, "health")
    assert health.returncode == cli.EXIT_DAEMON_ERROR == 7
    assert health.stdout.split("\n")[0].split()[1:3] == ["0.1.0:", "unhealthy"]
    assert "database   DOWN" in health.stdout
    as_json = brewctl(sock, "health", "--json")
    assert (as_json.returncode, json.loads(as_json.stdout)["status"]) == (7, "unhealthy")


def test_status_table_of_a_scheduling_daemon(start_daemon: StartDaemon, pg_dsn: str) -> None:
    sock = start_daemon(pg_dsn, ENABLE_SCHEDULER="true")
    wait_until(
        lambda: all(
            j["next_run"]
            for j in ControlClient(sock).request("GET", "/api/scheduler/status").body["jobs"]
        ),
        30,
        "every job planned",
    )
    status = brewctl(sock, "status", tz="Europe/Paris")  # the operator's local time
    assert status.returncode == 0, status.stderr
    lines = status.stdout.strip().split("\n")
    assert lines[0].split() == ["NEXT", "LEFT", "LAST", "STATUS", "JOB"]
    rows = lines[1:7]
    assert sorted(row.split()[-1] for row in rows) == sorted(ALL_JOBS)
    assert all(row.split()[3] in {"CET", "CEST"} for row in rows)  # NEXT in local time
    assert lines[-1].startswith("6 jobs listed. Scheduler running on ")
