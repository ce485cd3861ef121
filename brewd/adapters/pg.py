"""PostgreSQL access: one psycopg_pool pool, and driver errors translated once, here."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from brewd.adapters.pg_errors import classify
from brewd.core.config import DatabaseConfig
from brewd.core.depstate import DependencyState
from brewd.core.errors import (
    DatabaseError,
    DatabaseUnavailable,
    TransientDatabaseError,
    first_line,
)

Connection = psycopg.Connection[dict[str, Any]]

# The server gave up on this transaction, not on its data: it lost a serialization conflict or
# a deadlock, or waited too long for a lock. Raised as TransientDatabaseError (exit status 69);
# whether a run retries it is brewd/runs/retry.py's decision, not this module's.
TRANSIENT = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)
# A caller waiting for a pooled connection looks at the dependency state this often, so an
# outage that starts while it waits fails it within about this long, not after the timeout.
GATE_SLICE_S = 0.25
PROBE_EVERY_UP_S = 5.0
PROBE_EVERY_DOWN_S = 1.0  # refused or timed out: the server may be back any moment
PROBE_EVERY_PERMANENT_S = 5.0  # wrong password, database or host: wait for an operator


@contextmanager
def wrap_errors() -> Iterator[None]:
    """Translate psycopg's errors into brewd's tree, keeping the cause for the logs."""
    try:
        yield
    except PoolTimeout as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except TRANSIENT as exc:
        raise TransientDatabaseError(f"{type(exc).__name__}: {first_line(exc)}") from exc
    except DatabaseUnavailable:
        raise
    except pg_errors.QueryCanceled as exc:
        # A statement timeout or a cancel: the connection is fine (whatever its OperationalError
        # base says), so it is a plain DatabaseError (brewd/runs/retry.py does not retry it).
        raise DatabaseError(f"{type(exc).__name__}: {first_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"{type(exc).__name__}: {first_line(exc)}") from exc


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True  # each job opens its own transactions explicitly


def _reset(conn: psycopg.Connection[Any]) -> None:
    # A job may have set statement_timeout or lock_timeout on its connection; never leak them.
    conn.execute("RESET ALL")


class _RecordingConnection(psycopg.Connection[dict[str, Any]]):
    """A connection class whose every connection attempt (the pool's, the probe's) updates
    the dependency state: the outcome of real attempts, never a guess."""

    state: ClassVar[DependencyState]

    @classmethod
    def connect(cls, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            conn = super().connect(*args, **kwargs)
        except psycopg.OperationalError as exc:
            cls.state.mark_down(classify(exc))
            raise
        cls.state.mark_up(round((time.monotonic() - started) * 1000, 3))
        return conn


def connect_once(config: DatabaseConfig, application_name: str) -> Connection:
    """One direct connection, no pool and no retry; a failure raises its classified error
    (what `brewd db init` wants: the cause at once, with its exit status)."""
    try:
        return psycopg.connect(config.url or "", **_connect_kwargs(config, application_name))
    except psycopg.OperationalError as exc:
        raise classify(exc) from exc


def _connect_kwargs(config: DatabaseConfig, application_name: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "application_name": application_name,
        "connect_timeout": max(1, int(config.connect_timeout)),
        "row_factory": dict_row,
    }
    if config.legacy_timezone:
        # A startup option, not a SET: RESET ALL between uses keeps it. Naive `timestamp`
        # columns of an adopted database are read and written as instants in this zone.
        kwargs["options"] = f"-c TimeZone={config.legacy_timezone}"
    return kwargs


class Database:
    """The connection pool. Created closed; `open()` starts it without waiting for the server,
    so the daemon can start (and report degraded) while PostgreSQL is still down. While the
    state says the server is down, callers fail at once with the known cause."""

    def __init__(self, config: DatabaseConfig, *, application_name: str = "brewd") -> None:
        self.state = DependencyState("database")
        # Only a running probe can mark the server up again while callers are turned away, so
        # without one (db init, tests, the demo's direct runs) callers are never gated.
        self._gated = False
        self._config, self._application_name = config, application_name
        self._timeout = config.connect_timeout
        recording = type("BrewdConnection", (_RecordingConnection,), {"state": self.state})
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            config.url or "",  # empty: libpq's PG* variables and defaults apply
            connection_class=recording,
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            kwargs=_connect_kwargs(config, application_name),
            configure=_configure,
            reset=_reset,
            check=ConnectionPool.check_connection,
            timeout=config.connect_timeout,
            # 0: after a failed connect the pool stops retrying in the background at once, and
            # each later getconn() tries again: recovery follows the first request after the
            # database is back (tests/reliability/test_pg_outage.py), with no backoff to wait out.
            reconnect_timeout=0,
            open=False,
            name="brewd",
        )

    def open(self, *, wait: bool = False, timeout: float = 10.0) -> None:
        with wrap_errors():
            self._pool.open(wait=wait, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._pool.close(timeout=timeout)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Connection]:
        """A pooled connection in autocommit mode; use `conn.transaction()` for atomic work."""
        conn = self.getconn(timeout)
        try:
            with wrap_errors():
                yield conn
        finally:
            self._pool.putconn(conn)

    def getconn(self, timeout: float | None = None) -> Connection:
        """A connection held across threads (a run claims it in one, works and returns it in
        another); every getconn() must be matched by putconn(). Fails at once while the
        server is known to be down, and within GATE_SLICE_S of it going down while waiting."""
        deadline = time.monotonic() + (self._timeout if timeout is None else timeout)
        with wrap_errors():
            while True:
                if self._gated:
                    self.state.raise_if_down()
                wait = min(GATE_SLICE_S, max(deadline - time.monotonic(), 0.01))
                try:
                    return self._pool.getconn(timeout=wait)
                except PoolTimeout:
                    if time.monotonic() >= deadline:
                        raise

    def putconn(self, conn: Connection) -> None:
        self._pool.putconn(conn)

    def ping(self, timeout: float = 2.0) -> None:
        """Raise DatabaseError unless a round trip to the server succeeds within `timeout`."""
        with self.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    def probe(self) -> float:
        """Look at the server once and update the state; the seconds until the next look.
        Up: a round trip through the pool (a failure there reconnects, which records it).
        Down: a direct connection attempt, since the pool is not asked while down."""
        if not self.state.is_down:
            # A busy pool is not an outage; a dead server shows in the pool's reconnects.
            with suppress(DatabaseError):
                self.ping(timeout=self._timeout)
            return PROBE_EVERY_UP_S
        kwargs = _connect_kwargs(self._config, self._application_name)
        try:
            self._pool.connection_class.connect(self._config.url or "", **kwargs).close()
        except psycopg.Error:
            error = self.state.snapshot().error
            return PROBE_EVERY_PERMANENT_S if error and error.permanent else PROBE_EVERY_DOWN_S
        return PROBE_EVERY_UP_S

    def probe_forever(self, stop: threading.Event) -> None:
        """The background probe: keeps the state current while nobody asks for connections."""
        delay, self._gated = 0.0, True
        while not stop.wait(delay):
            try:
                delay = self.probe()
            except Exception as exc:  # the probe must outlive anything a look does
                self.state.mark_down(DatabaseUnavailable(f"database unavailable: {exc}"))
                delay = PROBE_EVERY_DOWN_S
        self._gated = False

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())
