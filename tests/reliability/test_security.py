"""Security end to end on a real daemon: SQL-looking data through every job, the control
socket's mode, group and peer check with a second uid (the unit-level peer rules are in
tests/integration/control/test_peer.py)."""

from __future__ import annotations

import grp
import json
import os
import shutil
import stat
import subprocess
from typing import Any

import psycopg
import pytest

from tests.reliability.conftest import Spawn
from tests.reliability.world import JOBS, database_effects, seed

Conn = psycopg.Connection[dict[str, Any]]
NASTY = ("'; DROP TABLE users; --", "$$ || pg_sleep(5) || $$", "%s %(now)s {} {0}", 'Robert"); --')
TABLES = ("cafes", "users", "user_sessions", "badges", "pokes", "messages", "agent_messages")


def test_sql_looking_names_and_messages_go_through_every_job_as_data(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    world = seed(pg, names=NASTY, text=" ".join(NASTY))
    daemon = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false", ENABLE_PROACTIVE_MESSAGES="true")
    for job in JOBS:
        reply = daemon.trigger(job)
        assert (reply.status, reply.body["status"]) == (200, "succeeded"), reply.body
    assert daemon.stop() == 0
    for table in TABLES:
        assert pg.execute(f"SELECT count(*) AS n FROM {table}").fetchone() is not None
    names = {row["name"] for row in pg.execute("SELECT name FROM cafes").fetchall()}
    assert names == set(NASTY)
    effects = database_effects(pg)
    assert effects["active_expired_users"] == 0
    assert effects["agent_messages"] == len(world.cafes)
    assert effects["butterflies"] == len(world.cafes)
    usernames = {row["username"] for row in pg.execute("SELECT username FROM users").fetchall()}
    assert all(any(name in u for name in NASTY) for u in usernames)
    assert "Traceback" not in daemon.output()


def as_nobody(socket_path: str, requests: list[tuple[str, str]]) -> list[int]:
    """Each request made by a child running as `nobody`: the HTTP statuses."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the nobody user")
    python = shutil.which("python3", path="/usr/bin:/bin")
    assert python, "needs /usr/bin/python3 (readable by nobody)"
    child = (
        "import http.client, json, socket, sys\n"
        "class C(http.client.HTTPConnection):\n"
        "    def connect(self):\n"
        "        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect(sys.argv[1])\n"
        "out = []\n"
        "for method, path in json.loads(sys.argv[2]):\n"
        "    c = C('localhost', timeout=30); c.request(method, path)\n"
        "    out.append(c.getresponse().status)\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [python, "-I", "-c", child, socket_path, json.dumps(requests)],
        user="nobody",
        group="nogroup",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd="/",
    )
    statuses: list[int] = json.loads(done.stdout)
    return statuses


@pytest.mark.root
def test_control_socket_is_0660_with_its_group_and_refuses_changes_from_another_uid(
    spawn: Spawn, pg_dsn: str, pg: Conn, redis_url: str
) -> None:
    daemon = spawn(
        pg_dsn,
        redis_url,
        ENABLE_SCHEDULER="false",
        BREWD_CONTROL_GROUP="nogroup",  # nobody may connect, as a member of the socket's group
        BREWD_CONTROL_ADMIN_GROUP="root",
    )
    info = os.stat(daemon.socket)
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert info.st_gid == grp.getgrnam("nogroup").gr_gid
    os.chmod(daemon.dir, 0o755)  # the socket's directory: a systemd RuntimeDirectory is 0755
    reads = [("GET", "/health"), ("GET", "/api/scheduler/status"), ("GET", "/metrics")]
    writes = [
        ("POST", "/api/scheduler/trigger/expirePokes"),
        ("POST", "/api/scheduler/jobs/expirePokes/pause"),
        ("POST", "/api/scheduler/jobs/expirePokes/resume"),
    ]
    assert as_nobody(daemon.socket, reads + writes) == [200, 200, 200, 403, 403, 403]
    assert pg.execute("SELECT count(*) AS n FROM job_runs").fetchone() == {"n": 0}
    assert pg.execute("SELECT count(*) AS n FROM job_state").fetchone() == {"n": 0}
    assert daemon.trigger("expirePokes").status == 200  # root may
    assert daemon.stop() == 0
