"""logging.dir on a read-only file system, and on one that fills up while the daemon runs
(tiny tmpfs mounts, so root): logging degrades, the daemon keeps running and answering."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.conftest import Spawn

pytestmark = pytest.mark.root


@contextlib.contextmanager
def tmpfs(path: Path, *options: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    path.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", ",".join(("size=256k", *options)), "tmpfs", str(path)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path) -> None:
    """Write until the file system is full."""
    with contextlib.suppress(OSError), (directory / "filler").open("wb") as out:
        while True:
            out.write(b"\0" * 4096)
            out.flush()


def exercise(daemon: object, runs: int = 3) -> None:
    """Runs and reads, each of which logs (about 600 bytes a run at the debug level)."""
    for _ in range(runs):
        reply = daemon.trigger("expirePokes")  # type: ignore[attr-defined]
        assert (reply.status, reply.body["status"]) == (200, "succeeded"), reply.body
    assert daemon.health().status == 200  # type: ignore[attr-defined]


def test_read_only_log_dir_disables_file_logs_with_one_warning(
    spawn: Spawn, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "ro", "ro") as logs:
        daemon = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false", BREWD_LOGGING_DIR=str(logs))
        exercise(daemon)
        assert daemon.stop() == 0
    output = daemon.output()
    assert output.count("file logs disabled") == 1, output
    assert "Read-only file system" in output
    assert "Traceback" not in output
    assert "expirePokes succeeded" in output  # stderr logging carries on


def test_full_disk_under_the_log_dir_never_stops_the_daemon(
    spawn: Spawn, pg_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "full") as logs:
        daemon = spawn(pg_dsn, redis_url, ENABLE_SCHEDULER="false", BREWD_LOGGING_DIR=str(logs))
        assert (logs / "combined.log").exists()
        fill(logs)
        exercise(daemon, runs=30)  # several pages of log lines that cannot be written
        (logs / "filler").unlink()  # space again: file logging resumes
        exercise(daemon)
        assert daemon.stop() == 0
        combined = (logs / "combined.log").read_text()
    output = daemon.output()
    # one line when the writes start failing, one when they work again; no traceback per line
    assert output.count("combined.log (No space left on device): file logging suspended") == 1
    assert output.count("combined.log again") == 1
    assert "Traceback" not in output
    assert "brewd stopped" in combined  # written after the space came back
