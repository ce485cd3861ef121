"""The chaos run's own PostgreSQL and Redis, on free TCP ports in a temporary directory, so
that the run may restart and kill them (never the shared servers)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import psycopg
import redis

from tests.helpers import wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Throwaway data: durability off; UTC so that the database's now() is what brewd compares.
PG_SETTINGS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    " -c shared_buffers=32MB -c TimeZone=UTC -c listen_addresses=127.0.0.1"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> dict[str, object]:
    """PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": pwd.getpwnam("postgres").pw_gid}


class Postgres:
    """initdb + pg_ctl on a free port; restart fast or immediate."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def start(self) -> Postgres:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync")
        self._ctl("start")
        return self

    def _options(self) -> str:
        return f"-p {self.port} -k {self.dir} {PG_SETTINGS}"

    def _ctl(self, action: str, mode: str = "fast") -> None:
        self._run(
            PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-m", mode,
            "-o", self._options(), "-w", "-t", "60", action,
        )  # fmt: skip

    def restart(self, mode: str) -> None:
        """mode 'fast' (clients disconnected, clean shutdown) or 'immediate' (crash recovery)."""
        self._ctl("restart", mode)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "immediate")

    def _run(self, *argv: str | Path) -> None:
        subprocess.run(
            [str(a) for a in argv],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.dir,
            **_as_postgres(),  # type: ignore[call-overload]
        )


class RedisServer:
    """redis-server on a free port, no persistence: a kill and restart comes back empty."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        with (self.dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_until(lambda: _pings(client), 30, "the chaos Redis to answer")
        client.close()
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self.kill()


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def connect(dsn: str) -> psycopg.Connection[dict[str, object]]:
    from psycopg.rows import dict_row

    return psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=5)
