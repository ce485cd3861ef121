"""A flood of idle connections on the control socket of a real daemon: with the cap it keeps
answering; past its descriptor limit it says so once, not once per failed accept."""

from __future__ import annotations

import socket

from tests.helpers import wait_until
from tests.reliability.conftest import Spawn

# The daemon's own descriptors (about 15) plus the accept() batches in flight before the excess
# is closed (asyncio accepts up to the backlog, 128, per turn; a few turns) stay under this.
NOFILE = 512
FLOOD = NOFILE + 200


def flood(path: str, count: int) -> list[socket.socket]:
    """`count` idle connections (each connect waits while the listen backlog is full)."""
    conns = []
    for _ in range(count):
        # Blocking: AF_UNIX connect() with a timeout fails (EAGAIN) on a full backlog at once.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError:  # the daemon cannot accept any more: enough
            sock.close()
            break
        conns.append(sock)
    return conns


def test_flood_under_the_default_cap_is_shed_quietly(
    spawn: Spawn, pg_dsn: str, redis_url: str
) -> None:
    daemon = spawn(pg_dsn, redis_url, BREWD_CONTROL_MAX_CONNECTIONS="16", start=False)
    daemon.nofile = NOFILE
    daemon.start()
    conns = flood(daemon.socket, FLOOD)
    try:
        assert len(conns) == FLOOD  # the excess was closed, so accept() never ran dry
    finally:
        for sock in conns:
            sock.close()
    wait_until(lambda: daemon.answers(), 10, "an answer once the flood is gone")
    assert daemon.stop() == 0
    log = daemon.output()
    assert log.count("control_connections_capped") == 1, log[-3000:]
    assert "Too many open files" not in log


def test_out_of_descriptors_is_logged_once_per_episode(
    spawn: Spawn, pg_dsn: str, redis_url: str
) -> None:
    # A cap above the descriptor limit (a misconfiguration): accept() runs out of descriptors.
    daemon = spawn(pg_dsn, redis_url, BREWD_CONTROL_MAX_CONNECTIONS="4096", start=False)
    daemon.nofile = NOFILE
    daemon.start()
    conns = flood(daemon.socket, FLOOD)
    try:
        wait_until(lambda: "Too many open files" in daemon.output(), 30, "the EMFILE line")
        lines_then = len(daemon.output().splitlines())
        more = flood(daemon.socket, 50)  # more accepts fail while it lasts
        conns += more
        wait_until(lambda: len(daemon.output().splitlines()) >= lines_then, 5, "the log")
    finally:
        for sock in conns:
            sock.close()
    wait_until(lambda: daemon.answers(), 30, "an answer once the flood is gone")
    assert daemon.stop() == 0
    log = daemon.output()
    about_it = [line for line in log.splitlines() if "Too many open files" in line]
    assert len(about_it) == 1, about_it
    assert "Traceback" not in log
