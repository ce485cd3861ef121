"""PostgreSQL access: one psycopg_pool pool, and driver errors translated once, here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from brewd.config import DatabaseConfig
from brewd.errors import DatabaseError, DatabaseUnavailable, TransientDatabaseError

Connection = psycopg.Connection[dict[str, Any]]

# SQLSTATE classes a retry can fix: the connection went away, or PostgreSQL chose this
# transaction as the loser of a serialization conflict or a deadlock.
TRANSIENT = (
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
    pg_errors.LockNotAvailable,
)


@contextmanager
def wrap_errors() -> Iterator[None]:
    """Translate psycopg's errors into brewd's tree, keeping the cause for the logs."""
    try:
        yield
    except PoolTimeout as exc:
        raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
    except TRANSIENT as exc:
        raise TransientDatabaseError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
    except pg_errors.QueryCanceled as exc:
        # A statement timeout or a cancel: the run's window is over, or someone stopped it on
        # purpose. Not a lost connection (its OperationalError base), so not retried.
        raise DatabaseError(f"{type(exc).__name__}: {_first_line(exc)}") from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"database unavailable: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise DatabaseError(f"{type(exc).__name__}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True  # each job opens its own transactions explicitly


def _reset(conn: psycopg.Connection[Any]) -> None:
    # A job may have set statement_timeout or lock_timeout on its connection; never leak them.
    conn.execute("RESET ALL")


class Database:
    """The connection pool. Created closed; `open()` starts it without waiting for the server,
    so the daemon can start (and report degraded) while PostgreSQL is still down."""

    def __init__(self, config: DatabaseConfig, *, application_name: str = "brewd") -> None:
        kwargs: dict[str, Any] = {
            "application_name": application_name,
            "connect_timeout": max(1, int(config.connect_timeout)),
            "row_factory": dict_row,
        }
        if config.legacy_timezone:
            # A startup option, not a SET: RESET ALL between uses keeps it. Naive `timestamp`
            # columns of an adopted database are read and written as instants in this zone.
            kwargs["options"] = f"-c TimeZone={config.legacy_timezone}"
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            config.url or "",  # empty: libpq's PG* variables and defaults apply
            min_size=config.pool_min_size,
            max_size=config.pool_max_size,
            kwargs=kwargs,
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
        with wrap_errors(), self._pool.connection(timeout=timeout) as conn:
            yield conn

    def getconn(self, timeout: float | None = None) -> Connection:
        """A connection held across threads (a run claims it in one, works and returns it in
        another); every getconn() must be matched by putconn()."""
        with wrap_errors():
            return self._pool.getconn(timeout=timeout)

    def putconn(self, conn: Connection) -> None:
        self._pool.putconn(conn)

    def ping(self, timeout: float = 2.0) -> None:
        """Raise DatabaseError unless a round trip to the server succeeds within `timeout`."""
        with self.connection(timeout=timeout) as conn:
            conn.execute("SELECT 1")

    def stats(self) -> dict[str, int]:
        return dict(self._pool.get_stats())
