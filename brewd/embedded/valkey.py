"""A private Redis-protocol server (Valkey or Redis) on a Unix socket only, no persistence."""

from __future__ import annotations

import signal
import socket as sockets
import subprocess
from pathlib import Path
from typing import IO

from brewd.embedded import spawn
from brewd.embedded.binaries import RedisBinary
from brewd.embedded.privileges import Identity


def start(
    binary: RedisBinary, socket: Path, workdir: Path, identity: Identity | None, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    # port 0: no TCP listener at all; no RDB snapshots nor AOF, the data is throwaway.
    argv: list[str | Path] = [binary.path, "--port", "0", "--unixsocket", socket]
    argv += ["--unixsocketperm", "700", "--save", "", "--appendonly", "no"]
    argv += ["--dir", workdir, "--daemonize", "no", "--logfile", ""]
    return spawn.spawn(
        argv,
        identity=identity,
        death_signal=signal.SIGTERM,
        output=log,
        env=spawn.child_env(),
        cwd=workdir,
    )


def ping(socket: Path, timeout: float = 2.0) -> None:
    """One PING in the inline protocol; raises OSError unless the server answers +PONG.
    (Spoken directly: the readiness probe needs no client library.)"""
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(socket))
        conn.sendall(b"PING\r\n")
        reply = conn.recv(64)
    if not reply.startswith(b"+PONG"):
        raise OSError(f"unexpected reply to PING: {reply[:40]!r}")


def wait_ready(process: subprocess.Popen[bytes], socket: Path, deadline: float) -> None:
    spawn.wait_ready(
        process,
        lambda: ping(socket),
        not_yet=OSError,
        what="the Redis server",
        answer="answer PING",
        deadline=deadline,
    )


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    spawn.stop(process, signal.SIGTERM, timeout)
