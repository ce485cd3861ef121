"""Classifying failed connections by SQLSTATE and libpq's message: the kind decides the exit
status and whether retrying can help. Messages as PostgreSQL 15 and libpq 15-17 word them."""

from __future__ import annotations

import psycopg
import pytest

from brewd.adapters.pg_errors import classify, connection_cause
from brewd.core.errors import (
    DatabaseAuthFailed,
    DatabaseHostUnknown,
    DatabaseMissing,
    DatabaseUnavailable,
)

SERVER = 'connection failed: connection to server at "10.0.0.5", port 5432 failed: '


@pytest.mark.parametrize(
    ("message", "kind", "code"),
    [
        (
            SERVER + 'FATAL:  password authentication failed for user "brewd"',
            DatabaseAuthFailed,
            77,
        ),
        (
            SERVER + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "brewd"',
            DatabaseAuthFailed,
            77,
        ),
        (SERVER + 'FATAL:  database "brew" does not exist', DatabaseMissing, 67),
        (SERVER + 'FATAL:  role "brew" does not exist', DatabaseMissing, 67),
        (
            "failed to resolve host 'db.example': [Errno -2] Name or service not known",
            DatabaseHostUnknown,
            68,
        ),
        (
            SERVER + "Connection refused\n\tIs the server running on that host and accepting"
            " TCP/IP connections?",
            DatabaseUnavailable,
            69,
        ),
        ("connection timeout expired", DatabaseUnavailable, 69),
    ],
)
def test_classify(message: str, kind: type[DatabaseUnavailable], code: int) -> None:
    error = classify(psycopg.OperationalError(message))
    assert type(error) is kind
    assert error.exit_code == code
    assert error.permanent is (code != 69)
    assert "\n" not in str(error)


def test_cause_keeps_what_and_where() -> None:
    cause = connection_cause(psycopg.OperationalError(SERVER + 'FATAL:  role "x" does not exist'))
    assert cause == 'role "x" does not exist (server at "10.0.0.5", port 5432)'
