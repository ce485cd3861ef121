"""A private Redis-protocol server (Valkey or Redis) on a Unix socket only, no persistence."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import IO

import redis

from brewd.embedded import spawn
from brewd.embedded.binaries import RedisBinary
from brewd.embedded.errors import EmbeddedServersError
from brewd.embedded.privileges import Identity

POLL = 0.05


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


def wait_ready(process: subprocess.Popen[bytes], socket: Path, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        client = redis.Redis(unix_socket_path=str(socket), socket_timeout=2)
        try:
            if client.ping():
                return
        except redis.RedisError as exc:
            last = exc
        finally:
            client.close()
        try:
            process.wait(POLL)
        except subprocess.TimeoutExpired:
            continue
        raise EmbeddedServersError(f"the Redis server exited with status {process.returncode}")
    raise EmbeddedServersError(f"the Redis server did not answer PING in time ({last})")


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    spawn.stop(process, signal.SIGTERM, timeout)
