"""`brewd run` with http.listen: a bad or taken address stops it at start, one line, exit 78."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

from tests.acceptance.conftest import WebDaemon
from tests.reliability.daemon import clean_env, daemon_env, run_brewd


def test_a_bad_address_exits_78_with_one_line() -> None:
    env = clean_env(BREWD_HTTP_LISTEN="localhost:99999")
    done = run_brewd("run", "--config", "/dev/null", env=env, timeout=60)
    assert done.returncode == 78
    assert done.stderr.splitlines() == [
        "brewd: configuration error: http.listen = 'localhost:99999': "
        "port '99999' is not a number from 1 to 65535"
    ]


def test_a_taken_address_exits_78_with_one_line(
    pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        env = daemon_env(DATABASE_URL=pg_dsn, REDIS_URL=redis_url, BREWD_HTTP_LISTEN=address)
        env["BREWD_CONTROL_SOCKET"] = str(tmp_path / "s.sock")
        done = run_brewd("run", "--config", "/dev/null", env=env, timeout=60)
    assert done.returncode == 78, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"brewd: configuration error: http.listen = '{address}': cannot listen there "
        "(Address already in use)"
    )
    assert "Traceback" not in done.stderr


def test_the_listener_serves_the_original_health(web_daemon: WebDaemon) -> None:
    with urllib.request.urlopen(f"{web_daemon.url}/health", timeout=30) as response:
        body = json.load(response)
    assert response.status == 200
    assert body["status"] == "healthy"
    assert body["scheduler"]["isRunning"] is True
    assert f"read-only HTTP listener on http://{web_daemon.address}/" in web_daemon.output()
