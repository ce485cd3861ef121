"""The suite's fallback when no server is configured or running: embedded servers, once a session.

fix_pg and fix_redis share one EmbeddedServers (brewd.embedded), started on first need and
stopped at exit (its atexit hook; its parent-death signal and reaper if pytest dies hard).
"""

from __future__ import annotations

import pytest

from brewd.core.errors import BrewdError
from brewd.embedded import INSTALL_HINT, EmbeddedServers

_servers: EmbeddedServers | None = None
_failure: str | None = None


def servers(unreachable: str) -> EmbeddedServers:
    """The running embedded servers; or stop the run with one line saying what to do.

    `unreachable` names what was tried first, e.g. "PostgreSQL is not running on
    127.0.0.1:5432"."""
    global _servers, _failure
    if _servers is None and _failure is None:
        candidate = EmbeddedServers()
        try:
            candidate.start()
            _servers = candidate
        except BrewdError as exc:
            _failure = str(exc)
    if _servers is None:
        pytest.exit(
            f"{unreachable}, and embedded servers cannot start ({_failure}): start the server, "
            f"set BREWD_TEST_PG_DSN and BREWD_TEST_REDIS_URL, or {INSTALL_HINT}",
            returncode=3,
        )
    return _servers
