"""PostgreSQL for tests: a template database with the schema, cloned into a fresh one per test.

The server comes from BREWD_TEST_PG_DSN (an admin DSN); unset, the local server on
127.0.0.1:5432 as `postgres` if it answers, else embedded servers (tests/embedded_fallback.py).
When none of these works, the run stops with one line saying what to do.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from brewd.adapters.pg import Database
from brewd.core.config import DatabaseConfig
from brewd.db import migrate
from tests import embedded_fallback

DEFAULT_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
_counter = itertools.count()


_resolved: str | None = None


def _admin_dsn() -> str:
    """Resolved once: the configured DSN, else the local default if it answers, else embedded."""
    global _resolved
    if _resolved is None:
        _resolved = os.environ.get("BREWD_TEST_PG_DSN") or _default_or_embedded()
    return _resolved


def _default_or_embedded() -> str:
    try:
        psycopg.connect(DEFAULT_ADMIN_DSN, connect_timeout=2).close()
        return DEFAULT_ADMIN_DSN
    except psycopg.OperationalError:
        return embedded_fallback.servers(
            "PostgreSQL is not running on 127.0.0.1:5432"
        ).admin_conninfo


def _admin() -> psycopg.Connection[Any]:
    return psycopg.connect(_admin_dsn(), autocommit=True, connect_timeout=5)


def dsn_for(dbname: str) -> str:
    return make_conninfo(_admin_dsn(), dbname=dbname)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database holding the migrated schema, cloned per test; dropped at the end."""
    try:
        admin = _admin()
    except psycopg.OperationalError as exc:
        where = conninfo_to_dict(_admin_dsn()).get("host", "the default socket")
        pytest.exit(
            f"PostgreSQL is not reachable at {where} ({str(exc).strip().splitlines()[0]}): "
            "start it, or set BREWD_TEST_PG_DSN to an admin DSN",
            returncode=3,
        )
    name = f"brewd_tpl_{os.getpid()}"
    with admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(dsn_for(name), autocommit=True, row_factory=dict_row) as conn:
            migrate.apply(conn)
        yield name
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def pg_empty_dsn() -> Iterator[str]:
    """A fresh database with no schema at all (for `db init` tests)."""
    yield from _fresh_database(template=None)


@pytest.fixture
def pg_dsn(pg_template: str) -> Iterator[str]:
    """A fresh database with the current schema, private to this test."""
    yield from _fresh_database(template=pg_template)


@pytest.fixture
def pg_dsn_brewd(pg_template: str) -> Iterator[str]:
    """The same, under a name a directory's conftest can use when it overrides pg_dsn."""
    yield from _fresh_database(template=pg_template)


def _fresh_database(template: str | None) -> Iterator[str]:
    name = f"brewd_t_{os.getpid()}_{next(_counter)}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _admin() as admin:
        admin.execute(create)
    try:
        yield dsn_for(name)
    finally:
        with _admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A plain autocommit connection to the test's database, for arranging and asserting."""
    with psycopg.connect(pg_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture
def database(pg_dsn: str) -> Iterator[Database]:
    """brewd's own pool on the test's database, opened and closed around the test."""
    # 2 connections per running job (claim + work): a start-up catch-up of all six fits.
    db = Database(DatabaseConfig(url=pg_dsn, pool_max_size=14), application_name="brewd-test")
    db.open(wait=True, timeout=10)
    try:
        yield db
    finally:
        db.close()
