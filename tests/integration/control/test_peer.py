"""Peer credentials: another uid may read but not trigger, pause or resume, unless admin."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
from typing import Any

import pytest
from loguru import logger

from tests.integration.control.conftest import StartControl
from tests.integration.control.stub_port import StubPort

# The other uid's request, made by a child process that only has the standard library.
CHILD = """
import http.client, json, socket, sys
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
out = []
for method, path in json.loads(sys.argv[2]):
    conn = Conn("localhost", timeout=10)
    conn.request(method, path)
    reply = conn.getresponse()
    out.append([reply.status, json.loads(reply.read())])
print(json.dumps(out))
"""

pytestmark = pytest.mark.root


def as_nobody(
    socket_path: str, requests: list[tuple[str, str]], extra_groups: list[str] | None = None
) -> list[list[Any]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to the nobody user")
    # the system interpreter: the test's own may live where nobody cannot read (/root/.pyenv)
    python = shutil.which("python3", path="/usr/bin:/bin")
    assert python, "the peer test needs /usr/bin/python3 for its child process"
    done = subprocess.run(
        [python, "-I", "-c", CHILD, socket_path, json.dumps(requests)],
        user="nobody",
        group="nogroup",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        cwd="/",
        extra_groups=extra_groups,
    )
    replies: list[list[Any]] = json.loads(done.stdout)
    return replies


MUTATIONS = [
    ("POST", "/api/scheduler/trigger/expirePokes"),
    ("POST", "/api/scheduler/jobs/expirePokes/pause"),
    ("POST", "/api/scheduler/jobs/expirePokes/resume"),
]
READS = [
    ("GET", "/api/scheduler/status"),
    ("GET", "/health"),
    ("GET", "/metrics"[:0] + "/openapi.json"),
]


def test_another_uid_reads_but_cannot_change_anything(
    stub: StubPort, start_control: StartControl
) -> None:
    path = start_control(stub, group="nogroup", admin_group="root").socket_path
    seen: list[str] = []
    sink = logger.add(seen.append, format="{level} {message}", level="INFO")
    try:
        replies = as_nobody(path, READS + MUTATIONS)
    finally:
        logger.remove(sink)
    # Logged with who tried; the next two refusals of that uid within the minute are counted.
    refused = [line for line in seen if "refused" in line]
    nobody = pwd.getpwnam("nobody")
    assert len(refused) == 1
    assert re.fullmatch(
        rf"WARNING refused POST /api/scheduler/trigger/expirePokes from uid {nobody.pw_uid} "
        rf"\(nobody\) gid {grp.getgrnam('nogroup').gr_gid} pid \d+: not root, the daemon's "
        r"user, or a member of the admin group\n",
        refused[0],
    )
    assert [status for status, _ in replies] == [200, 200, 200, 403, 403, 403]
    assert "permission denied" in replies[3][1]["error"]
    assert stub.calls == []
    assert stub.paused == {}


def test_a_member_of_the_admin_group_by_primary_gid_may_trigger(
    stub: StubPort, start_control: StartControl
) -> None:
    path = start_control(stub, group="nogroup", admin_group="nogroup").socket_path
    replies = as_nobody(path, MUTATIONS[:2])
    assert [status for status, _ in replies] == [200, 200]
    assert str(stub.calls[0][1]).startswith("uid 65534 (nobody) pid ")
    assert stub.paused["expirePokes"].startswith("uid 65534 (nobody)")


def test_a_member_of_the_admin_group_by_supplementary_group_may_pause(
    stub: StubPort, start_control: StartControl
) -> None:
    path = start_control(stub, group="nogroup", admin_group="users").socket_path
    replies = as_nobody(path, MUTATIONS[1:2], extra_groups=["users"])
    assert replies[0][0] == 200
    assert "expirePokes" in stub.paused
