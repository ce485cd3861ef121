"""`brewd run` when its control socket cannot be had: one line and an exit status that says why
(73 EX_CANTCREAT: cannot be created; 69 EX_UNAVAILABLE: a live daemon holds it), not 70."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tests.reliability.daemon import daemon_env, run_brewd


def run_on(socket_path: str, pg_dsn: str, redis_url: str) -> tuple[int, list[str]]:
    env = daemon_env(
        DATABASE_URL=pg_dsn,
        REDIS_URL=redis_url,
        ENABLE_SCHEDULER="false",
        BREWD_CONTROL_ADMIN_GROUP="root",
        LOG_LEVEL="info",
    )
    done = run_brewd("run", "--config", "/dev/null", "--socket", socket_path, env=env)
    return done.returncode, done.stderr.splitlines()


def test_a_socket_that_cannot_be_created_exits_73(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    code, lines = run_on(str(not_a_directory / "brewd.sock"), pg_dsn, redis_url)
    assert code == 73
    assert lines == [
        f"brewd: cannot create the control socket directory {not_a_directory}: a file is in the way"
    ]


def test_a_socket_path_that_is_not_a_socket_exits_73(
    tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    taken = tmp_path / "brewd.sock"
    taken.write_text("")
    code, lines = run_on(str(taken), pg_dsn, redis_url)
    assert code == 73
    assert lines == [f"brewd: {taken} exists and is not a socket: remove it or set control.socket"]


def test_a_socket_a_live_daemon_listens_on_exits_69(pg_dsn: str, redis_url: str) -> None:
    directory = Path(os.path.realpath("/tmp")) / f"bx{os.getpid()}"
    directory.mkdir()
    path = str(directory / "s.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        live.bind(path)
        live.listen(8)
        code, lines = run_on(path, pg_dsn, redis_url)
    finally:
        live.close()
        os.unlink(path)
        directory.rmdir()
    assert code == 69
    assert len(lines) == 1
    assert lines[0].startswith(f"brewd: another brewd is already listening on {path}")
