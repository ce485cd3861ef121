"""Who is on the other end of the control socket (SO_PEERCRED), and may they change things."""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from typing import NamedTuple

_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class Peer(NamedTuple):
    """The connecting process's credentials, as the kernel recorded them at connect()."""

    pid: int
    uid: int
    gid: int

    def describe(self) -> str:
        """`uid 1000 (alice) pid 4242`: who asked, for job_runs and the logs."""
        try:
            name = pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return f"uid {self.uid} pid {self.pid}"
        return f"uid {self.uid} ({name}) pid {self.pid}"


def peer_of(sock: socket.socket | None) -> Peer | None:
    """The peer of a connected Unix socket; None for other sockets (e.g. a test's TCP site)."""
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return Peer(*_UCRED.unpack(raw))


def is_allowed(peer: Peer, *, daemon_uid: int, admin_gid: int | None, groups: set[int]) -> bool:
    """Root, the daemon's own user, or a member of the admin group (primary or supplementary)."""
    if peer.uid in (0, daemon_uid):
        return True
    return admin_gid is not None and (peer.gid == admin_gid or admin_gid in groups)


def groups_of(peer: Peer) -> set[int]:
    """The peer process's supplementary groups, from /proc; the user database if /proc is hidden.

    /proc/<pid>/status is the process's real, current set (it may differ from the user
    database after `newgrp` or `setgroups`), so it is preferred.
    """
    try:
        with open(f"/proc/{peer.pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except OSError:
        pass
    try:
        return set(os.getgrouplist(pwd.getpwuid(peer.uid).pw_name, peer.gid))
    except KeyError:
        return {peer.gid}


def group_id(name: str) -> int | None:
    """The gid of a group name, or None when the system has no such group."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
