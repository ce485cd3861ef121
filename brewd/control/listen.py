"""The control socket file: created 0660 with its group, a stale one replaced, a live one kept."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import stat
from collections.abc import Iterator

from loguru import logger

from brewd.control.peer import group_id
from brewd.core.errors import ControlSocketError, ControlSocketInUse

SOCKET_MODE = 0o660
MAX_PATH = 107  # sockaddr_un.sun_path is 108 bytes with the terminating NUL
PROBE_TIMEOUT = 1.0
BACKLOG = 128  # connections the kernel queues before the server accepts them


def bind_control_socket(
    path: str, *, group: str, backlog: int = BACKLOG
) -> tuple[socket.socket, int]:
    """A listening socket at `path` and its file's inode; ControlSocketInUse if another process
    listens there, ControlSocketError if it cannot be created.

    The socket is bound under a temporary name, given its mode and group, then renamed into
    place, so `path` never exists with the wrong permissions. The check-and-replace runs under
    a lock on the directory, so two daemons starting at once cannot both take the path.
    """
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    temporary = os.path.join(directory, f".{os.getpid()}.tmp")
    if len(os.fsencode(path)) > MAX_PATH or len(os.fsencode(temporary)) > MAX_PATH:
        raise ControlSocketError(
            f"control socket path {path} is too long (at most {MAX_PATH} bytes)"
        )
    _ensure_directory(directory)
    with _locked(directory):
        _remove_if_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            sock.bind(temporary)
            os.chmod(temporary, SOCKET_MODE)
            _set_group(temporary, group, shown=path)
            sock.listen(backlog)
            os.rename(temporary, path)
            inode = os.stat(path).st_ino
        except OSError as exc:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise ControlSocketError(
                f"cannot create control socket {path}: {exc.strerror}"
            ) from exc
    sock.setblocking(False)
    return sock, inode


def remove_socket_file(path: str, inode: int) -> None:
    """Unlink `path` if it is still our socket file (another daemon may have replaced it)."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == inode:
            os.unlink(path)


def _ensure_directory(directory: str) -> None:
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except FileExistsError as exc:  # makedirs' word for "a file is in the way"
        raise ControlSocketError(
            f"cannot create the control socket directory {directory}: a file is in the way"
        ) from exc
    except OSError as exc:
        raise ControlSocketError(
            f"cannot create the control socket directory {directory}: {exc.strerror}"
        ) from exc


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ControlSocketError(
            f"cannot open the control socket directory {directory}: {exc.strerror}"
        ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _remove_if_stale(path: str) -> None:
    """Unlink a socket file nobody listens on; refuse a live socket or a non-socket file."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlSocketError(
            f"{path} exists and is not a socket: remove it or set control.socket"
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)  # left by a crashed daemon: nothing accepts on it any more
        logger.bind(event="control_stale_socket").info(f"removed stale control socket {path}")
        return
    except TimeoutError:
        pass  # a full backlog: someone is listening, just busy
    except OSError as exc:
        raise ControlSocketError(
            f"cannot check the existing control socket {path}: {exc.strerror}"
        ) from exc
    finally:
        probe.close()
    raise ControlSocketInUse(
        f"another brewd is already listening on {path}: stop it, or set control.socket "
        "(BREWD_CONTROL_SOCKET, --socket) to another path"
    )


def _set_group(path: str, group: str, *, shown: str) -> None:
    """Give the socket its group; without that group, keep ours and say so (dev machines)."""
    gid = group_id(group)
    if gid is None:
        logger.bind(event="control_group_missing").warning(
            f"group {group!r} does not exist: control socket {shown} keeps group "
            f"{os.getegid()}; create the group or set control.group"
        )
        return
    if os.stat(path).st_gid == gid:
        return  # already ours (systemd's Group=brewd); the hardened unit filters chown anyway
    try:
        os.chown(path, -1, gid)
    except PermissionError:
        logger.bind(event="control_group_denied").warning(
            f"cannot give the control socket to group {group!r} (not a member): it keeps "
            f"group {os.getegid()}"
        )
