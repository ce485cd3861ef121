"""The suite on a machine with no servers: the fixtures start embedded ones, or say what to do.

"No servers" is simulated with a network namespace (unshare --net, loopback up: 127.0.0.1 refuses
every port), since the shared servers must keep running for everyone else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = "tests/integration/fallback_probe.py"


def _pytest_without_servers(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("a network namespace needs root, unshare(1) and ip(8)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BREWD_TEST_")}
    inside = 'ip link set lo up && exec "$@"'
    argv = ["unshare", "--net", "sh", "-c", inside, "sh", sys.executable, "-m", "pytest", "-q"]
    argv += ["-p", "no:cacheprovider"]
    return subprocess.run(
        [*argv, *args], cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=110
    )


@pytest.mark.root
def test_with_no_server_running_the_fixtures_start_embedded_ones() -> None:
    run = _pytest_without_servers(PROBE)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


@pytest.mark.root
def test_with_no_server_and_no_binaries_the_run_stops_with_one_line() -> None:
    run = _pytest_without_servers(PROBE, BREWD_PG_BINDIR="/nonexistent")
    assert run.returncode == 3
    lines = [line for line in run.stdout.splitlines() if "embedded servers cannot start" in line]
    assert len(lines) == 1
    assert "PostgreSQL is not running on 127.0.0.1:5432" in lines[0]
    assert "BREWD_PG_BINDIR=/nonexistent" in lines[0]
    assert "pip install 'brewd[embedded]'" in lines[0]
