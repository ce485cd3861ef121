"""Real PostgreSQL and Redis servers in a private temporary directory, for the demo and tests."""

from brewd.embedded.errors import INSTALL_HINT, EmbeddedServersError
from brewd.embedded.servers import EmbeddedServers

__all__ = ["INSTALL_HINT", "EmbeddedServers", "EmbeddedServersError"]
