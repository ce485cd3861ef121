"""journald's native protocol, spoken to a socket path of our choosing (tests bind their own).

systemd-python's journal.send always writes to /run/systemd/journal/socket; this is the same
protocol (systemd's JOURNAL_NATIVE_PROTOCOL.md) as a small adapter that takes the path, so the
code that runs in production is the code the tests exercise.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import socket
import struct
from collections.abc import Mapping

DEFAULT_SOCKET = "/run/systemd/journal/socket"
# libsystemd raises its send buffer to 8 MiB the same way; a bigger entry goes through a memfd.
SEND_BUFFER = 8 * 1024 * 1024
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")  # a leading _ is reserved for journald
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL


def encode(fields: Mapping[str, str | bytes]) -> bytes:
    """One journal entry: NAME=value lines, or NAME, a 64-bit little-endian size and the value
    when the value holds a newline (tracebacks, multi-line messages)."""
    out = bytearray()
    for name, value in fields.items():
        if not _FIELD_NAME.fullmatch(name):
            raise ValueError(f"invalid journal field name {name!r}")
        data = value.encode("utf-8", "replace") if isinstance(value, str) else value
        if b"\n" in data:
            out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += name.encode() + b"=" + data + b"\n"
    return bytes(out)


class JournalWriter:
    """Sends entries to journald's native socket; OSError reaches the caller (the log sink)."""

    def __init__(self, path: str = DEFAULT_SOCKET) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # Capped by net.core.wmem_max when not privileged: the memfd path covers big entries.
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def send(self, fields: Mapping[str, str | bytes]) -> None:
        data = encode(fields)
        try:
            self._sock.sendto(data, self.path)
        except OSError as exc:
            if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                raise
            self._send_memfd(data)

    def _send_memfd(self, data: bytes) -> None:
        """A datagram too big for the socket: journald accepts a sealed memfd instead."""
        fd = os.memfd_create("journal-entry", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.write(fd, data)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))]
            self._sock.sendmsg([], ancillary, 0, self.path)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._sock.close()
