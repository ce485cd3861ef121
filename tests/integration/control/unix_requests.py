"""A requests Session that speaks HTTP over a Unix socket, so schemathesis can fuzz the real
server on its real transport (no TCP site added just for tests)."""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool


class _UnixConnection(HTTPConnection):
    socket_path = ""

    def _new_conn(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self.socket_path)
        return sock


class _UnixAdapter(HTTPAdapter):
    def __init__(self, path: str) -> None:
        super().__init__()
        connection = type("Connection", (_UnixConnection,), {"socket_path": path})
        self._pool = HTTPConnectionPool("localhost")
        self._pool.ConnectionCls = connection

    def get_connection_with_tls_context(self, *args: Any, **kwargs: Any) -> HTTPConnectionPool:
        return self._pool

    def close(self) -> None:
        self._pool.close()
        super().close()


def unix_session(path: str) -> requests.Session:
    """Every http:// URL goes to the socket at `path`; the host part is ignored."""
    session = requests.Session()
    session.mount("http://", _UnixAdapter(path))
    return session
