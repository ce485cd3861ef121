"""A small blocking client of the control API over the Unix socket (used by brewctl)."""

from __future__ import annotations

import grp
import http.client
import json
import os
import socket
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from brewd.core.errors import BrewdError

DEFAULT_SOCKET = "/run/brewd/brewd.sock"


class DaemonUnreachable(BrewdError):
    """brewd's control socket cannot be reached."""


class Reply(NamedTuple):
    """The daemon's answer: the HTTP status, the JSON body (None if not JSON), the raw bytes."""

    status: int
    body: Any
    raw: bytes


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class ControlClient:
    """One request per call, each on a fresh connection (brewctl makes one or two)."""

    def __init__(self, socket_path: str = DEFAULT_SOCKET, timeout: float | None = 30.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(
        self, method: str, path: str, query: dict[str, str] | None = None, *, wait: bool = False
    ) -> Reply:
        """`wait`: no read timeout (a triggered run ends within its own job timeout)."""
        target = path + (f"?{urlencode(query)}" if query else "")
        conn = _UnixConnection(self.socket_path, None if wait else self.timeout)
        try:
            conn.request(method, target, headers={"Accept": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except OSError as exc:
            raise DaemonUnreachable(explain(self.socket_path, exc, self.timeout)) from exc
        except http.client.HTTPException as exc:
            raise DaemonUnreachable(
                f"brewd closed the connection on {self.socket_path} without an answer "
                f"({type(exc).__name__}); see `journalctl -u brewd`"
            ) from exc
        finally:
            conn.close()
        return Reply(response.status, _json_or_none(raw), raw)

    def job_path(self, template: str, job: str) -> str:
        return template.format(job=quote(job, safe=""))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def explain(path: str, exc: OSError, timeout: float | None) -> str:
    """Why the socket cannot be reached, naming the path and what to do about it."""
    if isinstance(exc, FileNotFoundError):
        return (
            f"no control socket at {path}: brewd is not running (see `systemctl status brewd`), "
            "or it listens elsewhere (--socket, BREWD_CONTROL_SOCKET)"
        )
    if isinstance(exc, PermissionError):
        group = socket_group(path)
        join = f"join the group {group!r} (`sudo usermod -aG {group} $USER`, then log in again)"
        if group is None:
            join = "join the socket's group (see `ls -l` of the socket and its directory)"
        return f"permission denied on {path}: {join} or run as root"
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"nothing listens on {path}: brewd is not running (the socket file is left from an "
            "earlier run; see `systemctl status brewd`)"
        )
    if isinstance(exc, TimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        return f"brewd did not answer on {path}{within}; see `journalctl -u brewd`"
    return f"cannot talk to brewd on {path}: {exc.strerror or exc}"


def socket_group(path: str) -> str | None:
    """The group that grants access to `path`: the socket's, or (when its directory cannot
    be searched) the directory's; None if neither can be found out."""
    for candidate in (path, os.path.dirname(os.path.abspath(path))):
        try:
            gid = os.stat(candidate).st_gid
        except OSError:
            continue
        try:
            return grp.getgrgid(gid).gr_name
        except KeyError:
            return str(gid)
    return None
