"""A stand-in for journald in tests: a bound datagram socket that parses the native protocol."""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import threading
from collections.abc import Callable

DEADLINE_S = 5.0


def parse(data: bytes) -> dict[str, str]:
    """journald's side of the protocol: NAME=value lines, or NAME\\n<le64 size><value>\\n."""
    fields: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if b"=" in line:
            name, value = line.split(b"=", 1)
            pos = end + 1
        else:
            name = line
            (size,) = struct.unpack("<Q", data[end + 1 : end + 9])
            value = data[end + 9 : end + 9 + size]
            assert data[end + 9 + size : end + 10 + size] == b"\n"
            pos = end + 10 + size
        assert name.decode() not in fields, f"duplicate field {name!r}"
        fields[name.decode()] = value.decode()
    return fields


class Journal:
    """A bound datagram socket standing in for /run/systemd/journal/socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(DEADLINE_S)

    def receive_raw(self) -> bytes:
        """One entry: the datagram itself, or the content of the memfd it carries."""
        data, fds, _flags, _addr = socket.recv_fds(self.sock, 16 << 20, 1)
        if not fds:
            return data
        assert data == b""
        try:
            seals = fcntl.fcntl(fds[0], fcntl.F_GET_SEALS)
            assert seals & fcntl.F_SEAL_WRITE, "journald refuses an unsealed memfd"
            # journald maps the memfd from offset 0 (the shared offset sits at the end).
            return os.pread(fds[0], os.fstat(fds[0]).st_size, 0)
        finally:
            os.close(fds[0])

    def receive(self) -> dict[str, str]:
        return parse(self.receive_raw())

    def nothing_pending(self) -> bool:
        """The sink writes synchronously, so anything sent is already queued here."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable


class Collector:
    """Reads entries as they come, as journald does: a reader that stops reading would block
    the daemon's logging once the socket's queue (net.unix.max_dgram_qlen) is full."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.entries: list[dict[str, str]] = []
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="journal-collector", daemon=True)
        self.journal.sock.settimeout(0.2)  # how soon the reader notices stop()
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                entry = self.journal.receive()
            except TimeoutError:
                continue
            with self._changed:
                self.entries.append(entry)
                self._changed.notify_all()

    def wait_for(self, match: Callable[[dict[str, str]], bool], timeout: float) -> dict[str, str]:
        def found() -> dict[str, str] | None:
            return next((entry for entry in self.entries if match(entry)), None)

        with self._changed:
            entry = self._changed.wait_for(found, timeout)
        assert entry is not None, f"no matching journal entry within {timeout}s"
        return entry

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
