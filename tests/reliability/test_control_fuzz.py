"""A raw-socket fuzzer against a real daemon's control socket: bad request lines, invalid UTF-8,
oversized heads and bodies, slowloris, a crowd of connections. No 5xx, no traceback, the
daemon keeps answering, and its memory stays bounded. (Schema-driven fuzzing of the documented
routes is tests/integration/control/test_openapi_fuzz*.py.)"""

from __future__ import annotations

import contextlib
import random
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers import wait_until
from tests.reliability.conftest import Spawn
from tests.reliability.daemon import DaemonProcess

HAND_MADE = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),  # a TLS hello
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"\x00\x01\x02\x03\r\n\r\n",
    b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/scheduler/jobs/\xff\xfe/runs HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/scheduler/jobs/%ff%fe%00/runs?limit=%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/scheduler/jobs/expirePokes/runs?limit=-1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/scheduler/jobs/expirePokes/runs?limit=99999999999999999999 HTTP/1.1\r\n\r\n",
    b"GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: \xff\xfe\r\nX-\xc3\x28: \xc3\x28\r\n\r\n",
    b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nContent-Length: 5\r\n"
    b"Content-Length: 7\r\n\r\nhello",
    b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nContent-Length: -3\r\n\r\n",
    b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nnot hex\r\n0\r\n\r\n",
    b"POST /api/scheduler/trigger/expirePokes?wait=%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2_000)) + b"\r\n",
    b"GET /health HTTP/1.1\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n",
    b"POST /api/scheduler/jobs/expirePokes/pause HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n"
    + b"x" * 2_000_000,
    b"DELETE /api/scheduler/status HTTP/1.1\r\n\r\n",
    b"BREW /coffee HTCPCP/1.0\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\n\r\n",
    b"GET http://evil/health HTTP/1.1\r\n\r\n",
    b"\r\n\r\n\r\n",
]
TEMPLATE = (
    b"GET /api/scheduler/jobs/expirePokes/runs?limit=5 HTTP/1.1\r\nHost: x\r\n"
    b"Accept: application/json\r\nConnection: close\r\n\r\n"
)


def mutations(count: int, seed: int = 20261129) -> list[bytes]:
    """Byte-level mutations of a valid request: flips, insertions, deletions, truncations."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        data = bytearray(TEMPLATE)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(max(len(data), 1))
            action = rng.choice(("flip", "insert", "delete", "truncate"))
            if action == "flip":
                data[at] = rng.randrange(256)
            elif action == "insert":
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            elif action == "delete":
                del data[at : at + rng.randint(1, 10)]
            else:
                data = data[: max(at, 1)] + b"\r\n\r\n"
        found.append(bytes(data))
    return found


def exchange(path: str, data: bytes) -> bytes:
    """Send `data`, read until the server closes or 5 s pass: whatever came back. (No
    half-close: aiohttp takes the end of our side for a client gone and answers nothing.)"""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        with contextlib.suppress(OSError):  # the server may close before reading it all
            sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    """The status code of every response in `raw` (pipelined requests give several)."""
    found = []
    for line in raw.split(b"\r\n"):
        if line.startswith(b"HTTP/1.") and len(line) >= 12 and line[9:12].isdigit():
            found.append(int(line[9:12]))
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def check(raw: bytes, sent: bytes) -> None:
    assert b"Traceback" not in raw, (sent[:200], raw[:500])
    for status in statuses(raw):
        assert status < 500, (sent[:200], raw[:500])


def test_raw_fuzz_never_gets_a_5xx_or_a_traceback_and_memory_stays_bounded(
    spawn: Spawn, pg_dsn: str, redis_url: str
) -> None:
    daemon = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false", BREWD_CONTROL_REQUEST_TIMEOUT="2")
    assert daemon.health().status == 200
    before = rss_kib(daemon.pid)
    cases = HAND_MADE + mutations(400)
    # Concurrently: a request whose head never ends costs control.request_timeout (2 s) each.
    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(lambda data: exchange(daemon.socket, data), cases))
    for data, raw in zip(cases, replies, strict=True):
        check(raw, data)
    answered = sum(bool(statuses(raw)) for raw in replies)
    assert answered > len(cases) // 2  # most got an HTTP answer (4xx or 200), not a hang-up
    slowloris(daemon)
    crowd(daemon)
    after = rss_kib(daemon.pid)
    assert daemon.health().status == 200
    assert after - before < 64 * 1024, (before, after)  # KiB: bounded, not growing with input
    assert daemon.stop() == 0
    output = daemon.output()
    assert "Traceback" not in output
    assert "internal error" not in output
    print(f"RSS before {before} KiB, after {after} KiB; {answered}/{len(cases)} answered")


def slowloris(daemon: DaemonProcess, connections: int = 100) -> None:
    """Connections that send half a request head and stall: the daemon keeps answering
    others, and drops them after control.request_timeout."""
    socks = []
    try:
        for n in range(connections):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            sock.connect(daemon.socket)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow-%d: " % n)
            socks.append(sock)
        assert daemon.health().status == 200
        for sock in socks:
            check(sock.recv(65536), b"slowloris")  # closed by the daemon (b"" or a 4xx)
    finally:
        for sock in socks:
            sock.close()


def crowd(daemon: DaemonProcess, connections: int = 300) -> None:
    """Many connections at once, reads and writes mixed."""
    requests = [
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /api/scheduler/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"POST /api/scheduler/jobs/expirePokes/resume HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n",
    ]
    with ThreadPoolExecutor(50) as pool:
        replies = list(
            pool.map(
                lambda i: exchange(daemon.socket, requests[i % 4]),
                range(connections),
            )
        )
    for raw in replies:
        check(raw, b"crowd")
        assert statuses(raw) in ([200], [503]), raw[:300]  # 503 only: status under load
    wait_until(lambda: daemon.health().status == 200, 10, "health after the crowd")
