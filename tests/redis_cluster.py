"""A real 3-master Redis Cluster on free loopback ports, for tests and chaos runs.

    with local_cluster(tmp_dir) as cluster:   # or the `redis_cluster` pytest fixture
        RedisCluster.from_url(cluster.url)

Each node is `redis-server --cluster-enabled yes` without persistence, in its own directory;
`redis-cli --cluster create` assigns the 16,384 slots; the cluster is ready once every node
says cluster_state:ok. `ClusterUnavailable` says why a cluster cannot be started here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import redis

from tests.helpers import wait_until

MASTERS = 3
BUS_OFFSET = 10_000  # Redis Cluster's bus listens on the client port + 10,000


class ClusterUnavailable(RuntimeError):
    """redis-server or redis-cli is missing, or this redis-server has no cluster support."""


@dataclass(frozen=True)
class LocalCluster:
    ports: tuple[int, ...]
    processes: tuple[subprocess.Popen[bytes], ...]

    @property
    def url(self) -> str:
        """Any node names the cluster; the first is as good as another."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node_clients(self) -> list[redis.Redis]:
        return [redis.Redis(port=port, decode_responses=True) for port in self.ports]

    def flush(self) -> None:
        """Empty every master (FLUSHALL is per node in a cluster)."""
        for client in self.node_clients():
            with client:
                client.flushall()


def free_cluster_port() -> int:
    """A free port whose bus port (+10,000) is free too; the OS picks, never a fixed number."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + BUS_OFFSET < 65_536 and _is_free(port + BUS_OFFSET):
            return port
    raise ClusterUnavailable("no free port pair (port, port + 10000) on 127.0.0.1")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def local_cluster(directory: Path) -> Iterator[LocalCluster]:
    """Start the nodes, create the cluster, wait for cluster_state:ok; stop the nodes after."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise ClusterUnavailable("redis-server and redis-cli are needed for a Redis Cluster")
    with ExitStack() as stack:
        ports, processes = [], []
        for _ in range(MASTERS):
            port = free_cluster_port()
            processes.append(stack.enter_context(_node(server, directory / str(port), port)))
            ports.append(port)
        for port, process in zip(ports, processes, strict=True):
            wait_until(partial(_answers, port, process), timeout=20, what=f"node on {port}")
        _create(cli, ports)
        for port in ports:
            wait_until(partial(_cluster_ok, port), timeout=30, what=f"cluster_state:ok on {port}")
        yield LocalCluster(tuple(ports), tuple(processes))


@contextmanager
def _node(server: str, directory: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    directory.mkdir(parents=True)
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
    command += ["--cluster-config-file", "nodes.conf", "--dir", str(directory)]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    log = (directory / "redis.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _answers(port: int, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:  # e.g. a redis-server built without cluster support
        raise ClusterUnavailable(
            f"redis-server --cluster-enabled yes exited ({process.returncode})"
        )
    try:
        with redis.Redis(port=port, socket_connect_timeout=1) as client:
            return bool(client.ping())
    except redis.ConnectionError:
        return False


def _create(cli: str, ports: list[int]) -> None:
    nodes = [f"127.0.0.1:{port}" for port in ports]
    done = subprocess.run(
        [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise ClusterUnavailable(f"redis-cli --cluster create failed: {done.stdout[-500:]}")


def _cluster_ok(port: int) -> bool:
    with redis.Redis(port=port, decode_responses=True) as client:
        return "cluster_state:ok" in str(client.execute_command("CLUSTER", "INFO"))
