"""What a failed PostgreSQL connection means: one line with the cause, and its kind (exit code).

libpq reports connection failures without a SQLSTATE (psycopg's `sqlstate` is None before a
session exists), so the kind comes from the SQLSTATE when there is one and otherwise from the
server's FATAL message or libpq's own wording, which are stable across PostgreSQL versions.
"""

from __future__ import annotations

import re

import psycopg

from brewd.core.errors import (
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnavailable,
)

AUTH_SQLSTATES = ("28P01", "28000")  # invalid_password, invalid_authorization_specification
MISSING_DB_SQLSTATE = "3D000"  # invalid_catalog_name
_ROLE_MISSING = re.compile(r'role "[^"]*" does not exist')
_DB_MISSING = re.compile(r'database "[^"]*" does not exist')
_AUTH = ("password authentication failed", "no pg_hba.conf entry", "authentication failed")
_UNRESOLVABLE = ("failed to resolve host", "could not translate host name", "name or service not")


def classify(exc: psycopg.OperationalError) -> DatabaseUnavailable:
    """The brewd error for a failed connection attempt, its message one line with the cause."""
    cause = connection_cause(exc)
    sqlstate = exc.sqlstate or ""
    lowered = cause.lower()
    if sqlstate == MISSING_DB_SQLSTATE or _DB_MISSING.search(cause) or _ROLE_MISSING.search(cause):
        return DatabaseMissing(f"database unavailable: {cause}")
    if sqlstate in AUTH_SQLSTATES or any(text in lowered for text in _AUTH):
        return DatabaseAuthFailed(f"database unavailable: {cause}")
    if any(text in lowered for text in _UNRESOLVABLE):
        return DatabaseHostUnknown(f"database unavailable: {cause}")
    return DatabaseUnavailable(f"database unavailable: {cause}")


def connection_cause(exc: BaseException) -> str:
    """libpq's message reduced to one line: the server's address and what went wrong.

    'connection failed: connection to server at "h", port 5432 failed: FATAL:  database "x"
    does not exist' becomes 'database "x" does not exist (server at "h", port 5432)'.
    """
    text = " ".join(str(exc).split("\n\t")[0].split()) or type(exc).__name__
    text = text.removeprefix("connection failed: ")
    where, sep, what = text.rpartition(" failed: ")
    if not sep:
        return text
    what = what.removeprefix("FATAL: ").strip()
    where = where.removeprefix("connection to ").strip()
    return f"{what} ({where})" if where else what
