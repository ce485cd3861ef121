"""Secrets never appear anywhere: a daemon with a password in DATABASE_URL and REDIS_URL and an
API key, made to fail in every way (Redis unreachable, the Claude API refusing the key, the
database cut mid-way); every output is searched for them."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.helpers import free_tcp_port, wait_until
from tests.reliability.conftest import Spawn
from tests.reliability.daemon import DaemonProcess, clean_env, run_brewctl, run_brewd
from tests.reliability.proxy import Proxy
from tests.reliability.world import JOBS, seed

Conn = psycopg.Connection[dict[str, Any]]
PASSWORD = "pg-Secret-7f3a9c"
REDIS_PASSWORD = "redis-Secret-51b2e8"
API_KEY = "sk-ant-api03-Secret-c0ffee"
SECRETS = (PASSWORD, REDIS_PASSWORD, API_KEY)


@pytest.fixture
def role(pg: Conn) -> Iterator[str]:
    """A login role with a password, allowed to do a daemon's work in the test database."""
    name = f"brewd_secret_{os.getpid()}"
    ident = sql.Identifier(name)
    pg.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, sql.Literal(PASSWORD)))
    try:
        for grant in ("TABLES", "SEQUENCES"):
            pg.execute(
                sql.SQL("GRANT ALL ON ALL {} IN SCHEMA public TO {}").format(sql.SQL(grant), ident)
            )
        yield name
    finally:
        pg.execute(sql.SQL("DROP OWNED BY {}").format(ident))
        pg.execute(sql.SQL("DROP ROLE {}").format(ident))


def outputs(daemon: DaemonProcess, full: bool = True) -> dict[str, str]:
    """What the daemon and its tools show an operator (`full`: all of it; else the few things
    asked while the database is down, each of which waits for a connection in vain)."""
    found = {}
    paths = ["/health", "/metrics", "/api/scheduler/status"]
    commands = [["health"]]
    if full:
        paths += [f"/api/scheduler/jobs/{job}/runs" for job in JOBS]
        commands += [["status"], ["history", "proactiveMessages"], ["history", "expireUsers"]]
    for path in paths:
        found[path] = daemon.request("GET", path).raw.decode()
    for args in commands:
        for extra in ([], ["--json"]):
            done = run_brewctl(*args, *extra, "--socket", daemon.socket, env=daemon.env)
            found[" ".join(args + extra)] = done.stdout + done.stderr
    listen = daemon.env.get("BREWD_HTTP_LISTEN")  # the read-only TCP listener, when on
    for path in ("/health", "/api/scheduler/status", "/metrics", "/api/overview") if listen else ():
        found[f"http {path}"] = http_get(f"http://{listen}{path}")
    return found


def http_get(url: str) -> str:
    """The body of a GET on the read-only TCP listener, whatever its status."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())


def test_no_secret_in_logs_status_metrics_check_config_or_errors(
    spawn: Spawn, pg_proxy: Proxy, pg_dsn: str, pg: Conn, redis_url: str, role: str
) -> None:
    seed(pg)
    dbname = conninfo_to_dict(pg_dsn)["dbname"]
    database_url = f"postgresql://{role}:{PASSWORD}@127.0.0.1:{pg_proxy.port}/{dbname}"
    redis_with_password = f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/10"  # nothing listens there
    with FakeClaudeAPI(Reply(status=401)) as api:
        daemon = spawn(
            database_url,
            redis_with_password,
            ENABLE_SCHEDULER="false",
            ENABLE_PROACTIVE_MESSAGES="true",
            ANTHROPIC_API_KEY=API_KEY,
            ANTHROPIC_BASE_URL=api.base_url,
            BREWD_DATABASE_CONNECT_TIMEOUT="2",
            BREWD_HTTP_LISTEN=f"127.0.0.1:{free_tcp_port()}",
        )
        for job in JOBS:
            assert daemon.trigger(job).body["status"] == "succeeded"
        assert api.calls > 0  # the key was used, and refused
        seen = outputs(daemon)
        pg_proxy.cut()  # now the database too
        wait_until(lambda: daemon.health().status == 503, 30, "unhealthy")
        failed = daemon.trigger("expireUsers")
        seen |= {f"down {k}": v for k, v in outputs(daemon, full=False).items()}
        seen["failed trigger"] = failed.raw.decode()
        pg_proxy.restore()
        assert daemon.stop() == 0
    seen["log"] = daemon.output()
    seen |= check_config_outputs(daemon.env)
    seen["ledger"] = str(pg.execute("SELECT message, error FROM job_runs").fetchall())
    leaks = {name: s for name, text in seen.items() for s in SECRETS if s in text}
    assert leaks == {}
    for failure in ("cache update failed", "HTTP 401", "database unavailable"):
        assert failure in seen["log"]  # each failure really happened, and was logged


def check_config_outputs(env: dict[str, str]) -> dict[str, str]:
    """check-config with the same secrets, valid and broken, and `brewd run` refusing them."""
    found = {}
    for name, extra in (
        ("ok", {}),
        ("bad dsn", {"DATABASE_URL": f"postgresql://u:{PASSWORD}@h/db?nope=1 x"}),
        ("bad redis", {"REDIS_URL": f"http://:{REDIS_PASSWORD}@h"}),
    ):
        for command in (["check-config"], ["run"]) if extra else (["check-config"],):
            base = clean_env(**{k: v for k, v in env.items() if k not in os.environ})
            done = run_brewd(*command, env=base | extra)
            assert done.returncode in (0, 78), done.stderr
            found[f"{command[0]} {name}"] = done.stdout + done.stderr
    return found
