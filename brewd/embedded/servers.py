"""EmbeddedServers: a real PostgreSQL and a real Redis-protocol server, private and throwaway.

Both live in one mkdtemp directory and listen on Unix sockets only. They stop on every way out:
stop() / the context manager, atexit, the parent-death signal (SIGKILL of our process), and the
reaper process that removes the directory when we die abruptly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from brewd.embedded import postgres, valkey
from brewd.embedded.binaries import PostgresBinaries, RedisBinary, find_postgres, find_redis
from brewd.embedded.errors import EmbeddedServersError
from brewd.embedded.privileges import Identity, reachable, server_identity, stage_tree

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with the trailing NUL
REAPER = Path(__file__).with_name("reaper.py")


def _quiet(_: str) -> None:
    return None


class EmbeddedServers:
    """Context manager: `with EmbeddedServers() as s: use s.database_url, s.redis_url`."""

    def __init__(
        self,
        *,
        base_dir: str | None = None,
        log: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._base_dir = base_dir
        self._log = log or _quiet
        self._environ = os.environ if environ is None else environ
        self.directory: Path | None = None
        self.identity: Identity | None = None
        self.postgres: subprocess.Popen[bytes] | None = None
        self.redis: subprocess.Popen[bytes] | None = None
        self._reaper: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def database_url(self) -> str:
        """libpq URL of the `brewd` database, as its superuser `brewd`, over the socket."""
        return postgres.url(self._dir())

    @property
    def admin_conninfo(self) -> str:
        """The superuser on the `postgres` maintenance database (to create and drop others)."""
        return postgres.admin_conninfo(self._dir())

    @property
    def redis_socket(self) -> Path:
        return self._dir() / "redis.sock"

    @property
    def redis_url(self) -> str:
        return f"unix://{self.redis_socket}?db=0"

    def _dir(self) -> Path:
        if self.directory is None:
            raise EmbeddedServersError("the embedded servers are not started")
        return self.directory

    def __enter__(self) -> EmbeddedServers:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start both servers and return once each answers a real query, or raise."""
        deadline = time.monotonic() + timeout
        pg_bin, redis_bin = find_postgres(self._environ), find_redis(self._environ)
        self.identity = server_identity(self._environ)
        atexit.register(self.stop)
        try:
            directory = self._make_directory()
            pg_bin, redis_bin = self._reachable_binaries(pg_bin, redis_bin)
            self._log(f"PostgreSQL from {pg_bin.source}, Redis from {redis_bin.source}")
            self._start_servers(pg_bin, redis_bin, directory, deadline)
        except BaseException:
            self.stop()
            raise

    def _make_directory(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="brewd-", dir=self._base_dir))
        self.directory = directory
        self._start_reaper(directory)
        if len(str(directory / ".s.PGSQL.5432")) > MAX_SOCKET_PATH:
            raise EmbeddedServersError(
                f"{directory}: too long a path for a Unix socket; pass a shorter base directory"
            )
        if self.identity is not None:
            os.chown(directory, self.identity.uid, self.identity.gid)
            if not reachable(directory, self.identity):
                raise EmbeddedServersError(
                    f"{directory.parent} is not reachable by user {self.identity.name}, who "
                    "runs the servers: choose a base directory under /tmp"
                )
        return directory

    def _start_reaper(self, directory: Path) -> None:
        self._reaper = subprocess.Popen(  # noqa: S603 - our own script, by absolute path
            [sys.executable, "-I", str(REAPER), str(directory)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _tell_reaper(self, word: str) -> None:
        if self._reaper and self._reaper.stdin and not self._reaper.stdin.closed:
            self._reaper.stdin.write(f"{word}\n".encode())
            self._reaper.stdin.flush()

    def _reachable_binaries(
        self, pg_bin: PostgresBinaries, redis_bin: RedisBinary
    ) -> tuple[PostgresBinaries, RedisBinary]:
        """Stage the binaries into our directory when the server user cannot reach them."""
        who, directory = self.identity, self._dir()
        if who is None:
            return pg_bin, redis_bin
        if not (reachable(pg_bin.postgres, who) and reachable(pg_bin.initdb, who)):
            pg_bin = self._stage_postgres(pg_bin, who, directory)
        if not reachable(redis_bin.path, who):
            stage_tree({"bin/redis-server": redis_bin.path}, directory, who)
            redis_bin = RedisBinary(directory / "bin" / "redis-server", redis_bin.source)
        return pg_bin, redis_bin

    def _stage_postgres(
        self, pg_bin: PostgresBinaries, who: Identity, directory: Path
    ) -> PostgresBinaries:
        parts = pg_bin.relocatable_parts()
        if parts is None:
            raise EmbeddedServersError(
                f"user {who.name}, who runs the servers, cannot read {pg_bin.bindir}: make it "
                "readable or install PostgreSQL elsewhere"
            )
        stage_tree({f"pg/{name}": path for name, path in parts.items()}, directory, who)
        self._log(f"staged the PostgreSQL binaries for user {who.name}")
        base = pg_bin.bindir.parent.parent.parent
        return PostgresBinaries(directory / "pg" / pg_bin.bindir.relative_to(base), pg_bin.source)

    def _open_log(self, name: str) -> IO[bytes]:
        handle = open(self._dir() / name, "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(handle)
        return handle

    def _start_servers(
        self, pg_bin: PostgresBinaries, redis_bin: RedisBinary, directory: Path, deadline: float
    ) -> None:
        workdir = directory / "valkey"
        workdir.mkdir()
        if self.identity is not None:
            os.chown(workdir, self.identity.uid, self.identity.gid)
        # Valkey starts while initdb runs: the two waits overlap.
        self.redis = valkey.start(
            redis_bin, self.redis_socket, workdir, self.identity, self._open_log("redis.log")
        )
        self._tell_reaper(str(self.redis.pid))
        postgres.initdb(
            pg_bin, directory / "pgdata", self.identity, self._open_log("initdb.log"), directory
        )
        self.postgres = postgres.start(
            pg_bin, directory / "pgdata", directory, self.identity, self._open_log("postgres.log")
        )
        self._tell_reaper(str(self.postgres.pid))
        postgres.wait_ready(self.postgres, directory, deadline)
        valkey.wait_ready(self.redis, self.redis_socket, deadline)
        postgres.create_database(directory)
        self._log(f"PostgreSQL and Redis ready in {directory}")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop both servers and remove the directory; idempotent, safe at any stage."""
        atexit.unregister(self.stop)
        if self.redis is not None:
            valkey.stop(self.redis, timeout)
        if self.postgres is not None:
            postgres.stop(self.postgres, timeout)
        for handle in self._logs:
            handle.close()
        self._logs.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        if self._reaper is not None:
            # A reaper that died early (killed by hand) only costs us its safety net.
            with contextlib.suppress(OSError):
                self._tell_reaper("done")
            with contextlib.suppress(OSError):
                assert self._reaper.stdin is not None
                self._reaper.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._reaper.wait(timeout)
            self._reaper = None
