"""Process facts from /proc, and waiting for processes we did not start (pidfds, no sleeping)."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields from `state` on; comm may hold spaces


def children(pid: int) -> list[int]:
    """Live processes whose parent is `pid` (postgres gives each child its own session)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[1] == str(pid) and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def find_by_cmdline(*needles: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if all(needle in cmdline for needle in needles):
                found.append(int(entry.name))
    return found


class Watch:
    """pidfds opened while the processes live, so that pid reuse cannot fool the wait."""

    def __init__(self, pids: list[int]) -> None:
        self.fds: dict[int, int] = {}
        for pid in pids:
            try:
                self.fds[pid] = os.pidfd_open(pid)
            except ProcessLookupError:
                # Exited between being listed and being watched (a backend whose client just
                # disconnected): already what the wait is for.
                continue

    def wait_all_exited(self, timeout: float) -> list[int]:
        """Wait until every process exited; return those still alive at the deadline."""
        deadline = time.monotonic() + timeout
        alive = []
        for pid, fd in self.fds.items():
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
                alive.append(pid)
        return alive

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
