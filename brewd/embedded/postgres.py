"""A private PostgreSQL cluster: initdb, the postmaster on a Unix socket only, readiness, stop."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from brewd.embedded import spawn
from brewd.embedded.binaries import PostgresBinaries
from brewd.embedded.errors import EmbeddedServersError
from brewd.embedded.privileges import Identity

SUPERUSER = "brewd"
DATABASE = "brewd"
PORT = 5432  # only names the socket file (.s.PGSQL.5432) in our private directory

# Throwaway data: durability off, no TCP, shared memory in the data directory (Docker's small
# /dev/shm and leftovers in it after a crash are both avoided).
SERVER_SETTINGS = {
    "listen_addresses": "",
    "port": str(PORT),
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "dynamic_shared_memory_type": "mmap",
    "shared_buffers": "32MB",
    "max_connections": "100",
    "TimeZone": "UTC",
    "log_timezone": "UTC",
}


def admin_conninfo(socket_dir: Path, dbname: str = "postgres") -> str:
    return f"host={socket_dir} port={PORT} user={SUPERUSER} dbname={dbname}"


def url(socket_dir: Path, dbname: str = DATABASE) -> str:
    """A libpq URL on the socket directory (the port names the socket file)."""
    return f"postgresql://{SUPERUSER}@/{dbname}?host={socket_dir}&port={PORT}"


def initdb(
    binaries: PostgresBinaries, data: Path, identity: Identity | None, log: IO[bytes], cwd: Path
) -> None:
    argv: list[str | Path] = [
        binaries.initdb,
        "-D",
        data,
        "-U",
        SUPERUSER,
        "--auth=trust",
        "--encoding=UTF8",
    ]
    argv += ["--locale=C", "--no-sync", "--no-instructions"]
    process = spawn.spawn(
        argv,
        identity=identity,
        death_signal=signal.SIGKILL,
        output=log,
        env=spawn.child_env(),
        cwd=cwd,
    )
    if process.wait() != 0:
        raise EmbeddedServersError(f"initdb failed (exit {process.returncode}); see {log.name}")


def start(
    binaries: PostgresBinaries,
    data: Path,
    socket_dir: Path,
    identity: Identity | None,
    log: IO[bytes],
) -> subprocess.Popen[bytes]:
    argv: list[str | Path] = [binaries.postgres, "-D", data, "-k", socket_dir]
    for key, value in SERVER_SETTINGS.items():
        argv += ["-c", f"{key}={value}"]
    # SIGQUIT is an immediate shutdown: the postmaster takes its children down with it.
    return spawn.spawn(
        argv,
        identity=identity,
        death_signal=signal.SIGQUIT,
        output=log,
        env=spawn.child_env(),
        cwd=data,
    )


def wait_ready(process: subprocess.Popen[bytes], socket_dir: Path, deadline: float) -> None:
    """The socket file appears before recovery ends: ready means SELECT 1 answers."""

    def probe() -> None:
        with psycopg.connect(admin_conninfo(socket_dir), connect_timeout=2) as conn:
            conn.execute("SELECT 1")

    spawn.wait_ready(
        process,
        probe,
        not_yet=psycopg.OperationalError,
        what="postgres",
        answer="accept connections",
        deadline=deadline,
    )


def create_database(socket_dir: Path, name: str = DATABASE) -> None:
    with psycopg.connect(admin_conninfo(socket_dir), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Fast shutdown (SIGINT): clients are disconnected, the postmaster and children exit."""
    spawn.stop(process, signal.SIGINT, timeout)
