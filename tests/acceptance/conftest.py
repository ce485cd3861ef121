"""A `brewd run` child with its read-only TCP listener on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_tcp_port, wait_until
from tests.reliability.daemon import DaemonProcess, daemon_env

# Jobs whose latest slot is always within its grace at start, so the daemon catches them up.
CAUGHT_UP = {"expireUsers", "expirePokes", "aggregateAnalytics", "proactiveMessages"}


class WebDaemon(DaemonProcess):
    """A DaemonProcess whose HTTP listener answers at `url`."""

    url: str
    address: str

    def caught_up(self) -> bool:
        jobs = self.request("GET", "/api/scheduler/status").body["jobs"]
        ran = {job["name"] for job in jobs if job["last_run"] and job["last_run"]["finished_at"]}
        return ran >= CAUGHT_UP and not any(job["running"] for job in jobs)


@pytest.fixture
def web_daemon(pg_dsn: str, redis_url: str, tmp_path: Path) -> Iterator[WebDaemon]:
    """The scheduler on, its start-up catch-up finished, the listener on 127.0.0.1."""
    address = f"127.0.0.1:{free_tcp_port()}"
    env = daemon_env(DATABASE_URL=pg_dsn, REDIS_URL=redis_url, BREWD_HTTP_LISTEN=address)
    daemon = WebDaemon(tmp_path, "", env, {})
    daemon.address, daemon.url = address, f"http://{address}"
    try:
        daemon.start()
        wait_until(daemon.caught_up, 60, "the start-up catch-up to finish")
        yield daemon
    finally:
        daemon.cleanup()
