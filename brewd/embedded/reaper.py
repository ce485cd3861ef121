"""The reaper: a tiny process that outlives us to clean up after an abrupt death.

Run as `python -I reaper.py DIR` with a pipe on stdin (it imports nothing from brewd, so it
starts fast and works from the file alone). We write the pid of each server as it starts, and
`done` after a clean stop. If stdin reaches EOF without `done`, our process died (SIGKILL,
os._exit, a crash): the reaper gives the servers GRACE seconds to obey their parent-death
signal, kills what is left, and removes DIR, so that no server and no data directory outlive
us. It runs in its own session, so a Ctrl-C at the terminal does not reach it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import time

GRACE = 10.0  # seconds; a postmaster's immediate shutdown normally takes well under one


def _open(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)  # a stable handle: immune to pid reuse from here on
    except OSError:
        return None  # already gone


def _wait_or_kill(pidfds: list[int], deadline: float) -> None:
    for fd in pidfds:
        poller = select.poll()
        poller.register(fd, select.POLLIN)  # readable once the process has exited
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            with contextlib.suppress(OSError):  # it exited just now
                signal.pidfd_send_signal(fd, signal.SIGKILL)
        os.close(fd)


def main(directory: str) -> int:
    pidfds: list[int] = []
    for line in sys.stdin:
        word = line.strip()
        if word == "done":
            return 0
        if word.isdigit():
            fd = _open(int(word))
            if fd is not None:
                pidfds.append(fd)
    _wait_or_kill(pidfds, time.monotonic() + GRACE)
    shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(main(sys.argv[1]))
