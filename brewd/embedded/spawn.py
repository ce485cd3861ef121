"""Start a server process that cannot outlive us, and stop it with escalating signals.

Each child asks the kernel for a parent-death signal (prctl PR_SET_PDEATHSIG), so that even a
SIGKILL of our process stops it. The signal is tied to the *thread* that forked the child, so
children are forked from the main thread or from one daemon thread that lives as long as the
process. Each child gets its own session: a Ctrl-C at the terminal reaches us, not the servers,
and we stop them in order.
"""

from __future__ import annotations

import ctypes
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from brewd.embedded.errors import EmbeddedServersError
from brewd.embedded.privileges import Identity

PR_SET_PDEATHSIG = 1
POLL = 0.05  # seconds between readiness probes, spent waiting on the process itself
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with(parent: int, sig: int) -> Callable[[], None]:
    def preexec() -> None:
        # Runs in the child after the uid switch (which would clear the setting), before exec.
        _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class _Spawner(threading.Thread):
    """A daemon thread that lives as long as the process and forks on behalf of other threads."""

    def __init__(self) -> None:
        super().__init__(name="brewd-embedded-spawner", daemon=True)
        self.requests: queue.Queue[tuple[Callable[[], subprocess.Popen[bytes]], Future[Any]]]
        self.requests = queue.Queue()

    def run(self) -> None:
        while True:
            call, future = self.requests.get()
            try:
                future.set_result(call())
            except BaseException as exc:  # handed back to the caller, who re-raises it
                future.set_exception(exc)


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _in_long_lived_thread(call: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    global _spawner
    if threading.current_thread() is threading.main_thread():
        return call()
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
            _spawner.start()
    future: Future[subprocess.Popen[bytes]] = Future()
    _spawner.requests.put((call, future))
    return future.result()


def spawn(
    argv: Sequence[str | Path],
    *,
    identity: Identity | None,
    death_signal: int,
    output: IO[bytes],
    env: dict[str, str],
    cwd: Path,
) -> subprocess.Popen[bytes]:
    """Start argv as `identity` (None: as us) in its own session, dying with us."""
    ids: dict[str, Any] = {}
    if identity is not None:
        ids = {"user": identity.uid, "group": identity.gid, "extra_groups": []}

    def call() -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - argv is ours: a located server binary
            [str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with(os.getpid(), death_signal),
            **ids,
        )

    try:
        return _in_long_lived_thread(call)
    except OSError as exc:  # not executable, a noexec mount, a missing library loader...
        who = f" as {identity.name}" if identity else ""
        raise EmbeddedServersError(f"cannot run {argv[0]}{who}: {exc.strerror or exc}") from exc


def stop(process: subprocess.Popen[bytes], sig: int, timeout: float) -> None:
    """Send `sig`, wait up to `timeout` seconds, then SIGKILL; always reaps the child."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(sig)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(
    process: subprocess.Popen[bytes],
    probe: Callable[[], object],
    *,
    not_yet: type[Exception],
    what: str,
    answer: str,
    deadline: float,
) -> None:
    """Probe until it succeeds (`not_yet` means try again), between waits on the process
    itself, so a server that exits is reported at once rather than at the deadline."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            probe()
            return
        except not_yet as exc:
            last = exc
        try:
            process.wait(POLL)
        except subprocess.TimeoutExpired:
            continue
        raise EmbeddedServersError(f"{what} exited with status {process.returncode}")
    raise EmbeddedServersError(f"{what} did not {answer} in time ({last})")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: none of our PG*/REDIS* variables leak into the servers."""
    env = {"PATH": os.defpath, "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
    env.update(extra or {})
    return env
