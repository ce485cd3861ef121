"""Fixtures for fault tests: daemon subprocesses, TCP proxies to the real servers, the fake API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.fakes.claude_api import FakeClaudeAPI
from tests.helpers import NO_SYSTEMD_PYTHON, has_systemd_python
from tests.reliability.daemon import DaemonProcess, NotifyListener, daemon_env
from tests.reliability.proxy import Proxy

Spawn = Callable[..., DaemonProcess]


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Factory: spawn(database_url, redis_url, config="", start=True, **env) -> a running
    daemon; every daemon made is killed (SIGCONT first) at the end of the test."""
    made: list[DaemonProcess] = []

    def factory(
        database_url: str, redis_url: str, config: str = "", start: bool = True, **env: str
    ) -> DaemonProcess:
        base = daemon_env(DATABASE_URL=database_url, REDIS_URL=redis_url)
        daemon = DaemonProcess(tmp_path, config, base, env)
        made.append(daemon)
        return daemon.start() if start else daemon

    yield factory
    for daemon in made:
        daemon.cleanup()


@pytest.fixture
def pg_proxy(pg_dsn: str) -> Iterator[Proxy]:
    params = conninfo_to_dict(pg_dsn)
    proxy = Proxy(str(params.get("host", "127.0.0.1")), int(params.get("port") or 5432)).start()
    yield proxy
    proxy.stop()


def via(proxy: Proxy, pg_dsn: str) -> str:
    """The test database's DSN through `proxy`."""
    return make_conninfo(pg_dsn, host="127.0.0.1", port=str(proxy.port))


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[Proxy]:
    parts = urlsplit(redis_url)
    if parts.scheme != "redis":
        pytest.skip("the Redis proxy needs a TCP Redis (BREWD_TEST_REDIS_URL=redis://...)")
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 6379).start()
    yield proxy
    proxy.stop()


def redis_via(proxy: Proxy, redis_url: str) -> str:
    return f"redis://127.0.0.1:{proxy.port}{urlsplit(redis_url).path}"


@pytest.fixture
def claude() -> Iterator[FakeClaudeAPI]:
    with FakeClaudeAPI() as api:
        yield api


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifyListener]:
    """A NOTIFY_SOCKET for a daemon, closed whatever the test does; skips the test where
    systemd-python is missing (the daemon then refuses to start under NOTIFY_SOCKET)."""
    if not has_systemd_python():
        pytest.skip(NO_SYSTEMD_PYTHON)
    listener = NotifyListener(tmp_path)
    yield listener
    listener.close()
