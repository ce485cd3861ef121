"""Databases made by the original scheduler's schema, in a non-UTC zone, for adoption tests.

`legacy_dsn`: a fresh database with the original schema (not adopted), TimeZone
America/New_York. `legacy_pg`: the same, already adopted by `brewd db init`, as a connection.
Templates are built once per session; a clone loses per-database settings, so the TimeZone is
set again on every clone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from brewd.db import init
from tests.fix_pg import _admin, _counter, dsn_for
from tests.legacy_schema import create_original_schema

LEGACY_ZONE = "America/New_York"


def _create(name: str, template: str | None = None) -> None:
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with _admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(create)
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET TimeZone = {}").format(
                sql.Identifier(name), sql.Literal(LEGACY_ZONE)
            )
        )


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def legacy_template() -> Iterator[str]:
    name = f"brewd_legacy_tpl_{os.getpid()}"
    _create(name)
    with psycopg.connect(dsn_for(name), autocommit=True) as conn:
        create_original_schema(conn, LEGACY_ZONE)
    yield name
    _drop(name)


@pytest.fixture(scope="session")
def legacy_adopted_template(legacy_template: str) -> Iterator[str]:
    name = f"brewd_legacy_adopted_tpl_{os.getpid()}"
    _create(name, legacy_template)
    with psycopg.connect(dsn_for(name), autocommit=True, row_factory=dict_row) as conn:
        init.run(conn, legacy_timezone=None, dry_run=False, say=lambda line: None)
    yield name
    _drop(name)


def _clone(template: str) -> Iterator[str]:
    name = f"brewd_legacy_{os.getpid()}_{next(_counter)}"
    _create(name, template)
    try:
        yield dsn_for(name)
    finally:
        _drop(name)


@pytest.fixture
def legacy_dsn(legacy_template: str) -> Iterator[str]:
    """A fresh database with the original schema, not adopted, TimeZone America/New_York."""
    yield from _clone(legacy_template)


@pytest.fixture
def legacy_adopted_dsn(legacy_adopted_template: str) -> Iterator[str]:
    yield from _clone(legacy_adopted_template)


@pytest.fixture
def legacy_pg(legacy_adopted_dsn: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection to an adopted original database (session TimeZone New York)."""
    with psycopg.connect(legacy_adopted_dsn, autocommit=True, row_factory=dict_row) as conn:
        yield conn
