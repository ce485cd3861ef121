"""The unit file: systemd-analyze verify and security, sysusers, and Python under its hardening."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from brewd.core.config import ControlConfig
from tests.helpers import has_systemd_python

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "brewd.service"
SYSUSERS = ROOT / "systemd" / "brewd.sysusers"
MAX_EXPOSURE = 1.5  # SPEC §7

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)


def system_unit_dir() -> Path:
    for candidate in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if (Path(candidate) / "sysinit.target").exists():
            return Path(candidate)
    pytest.skip("no systemd unit directory with sysinit.target to verify against")


def fake_root(tmp_path: Path, unit_text: str) -> Path:
    """A root holding systemd's own units, the unit under test and the binaries it runs.

    `verify` checks that ExecStart's binary exists and that every dependency resolves; the
    package is not installed here, so a stand-in /usr/bin/brewd takes its place.
    """
    root = tmp_path / "root"
    shutil.copytree(system_unit_dir(), root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "bin").symlink_to("usr/bin")
    (root / "usr/bin").mkdir(parents=True)
    brewd = root / "usr/bin/brewd"
    brewd.write_text("#!/bin/sh\n")
    brewd.chmod(0o755)
    shutil.copy2("/bin/kill", root / "usr/bin/kill")
    (root / "etc/systemd/system").mkdir(parents=True)
    (root / "etc/systemd/system/brewd.service").write_text(unit_text)
    return root


def verify(root: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", "--man=no", f"--root={root}", "brewd.service"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_analyze
def test_verify_is_clean(tmp_path: Path) -> None:
    result = verify(fake_root(tmp_path, UNIT.read_text()))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The harness itself works: a misspelt directive is reported."""
    broken = UNIT.read_text().replace("NoNewPrivileges=yes", "NoNewPrivilegez=yes")
    result = verify(fake_root(tmp_path, broken))
    assert "Unknown key 'NoNewPrivilegez' in section [Service]" in result.stderr


@needs_analyze
def test_security_exposure_is_at_most_1_5() -> None:
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for brewd\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match[1]) <= MAX_EXPOSURE


def test_unit_keeps_the_contract() -> None:
    """The settings other parts of brewd rely on (SPEC §7, §2, §6)."""
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecStart": "/usr/bin/brewd run",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "78",
        "User": "brewd",
        "Group": "brewd",
        "RuntimeDirectory": "brewd",
        "EnvironmentFile": "-/etc/brewd/brewd.env",
    }
    assert {key: settings.get(key) for key in expected} == expected
    shutdown_timeout = 30  # scheduler.shutdown_timeout's default
    assert int(settings["TimeoutStopSec"]) > shutdown_timeout + 30
    assert int(settings["WatchdogSec"]) > 0
    assert "PrivateUsers" not in settings  # it would hide brewctl peers' uids (SO_PEERCRED)
    # Room for the control API's connection cap several times over (issue 16: at systemd's
    # default 1024, a flood of idle connections ran accept() out of descriptors).
    assert int(settings["LimitNOFILE"]) >= 4 * ControlConfig().max_connections


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="no systemd-sysusers")
def test_sysusers_creates_a_locked_system_user(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", "-"],
        input=SYSUSERS.read_text(),
        text=True,
        check=True,
        capture_output=True,
    )
    passwd = (tmp_path / "etc/passwd").read_text().splitlines()
    [entry] = [line.split(":") for line in passwd if line.startswith("brewd:")]
    assert int(entry[2]) < 1000  # a system uid
    assert entry[6] == "/usr/sbin/nologin"
    assert any(line.startswith("brewd:") for line in (tmp_path / "etc/group").read_text().split())


MDWE_CHILD = textwrap.dedent(
    """
    import ctypes, mmap, sys
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(77)
    try:  # the restriction is live: a writable and executable mapping is refused
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        sys.exit("MDWE is not enforced")
    except PermissionError:
        pass
    import aiohttp.web, anthropic, cronsim, loguru, prometheus_client, psycopg, psycopg_pool
    import redis, schedule, systemd.daemon
    import brewd.cli.brewd, brewd.adapters.logs, brewd.adapters.pg, brewd.adapters.cache
    with psycopg.connect(sys.argv[1]) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert redis.Redis.from_url(sys.argv[2]).ping()
    print("ok")
    """
)


@pytest.mark.skipif(
    # Not find_spec("systemd"): run from the repository, its systemd/ folder is a namespace
    # package, so that is never None.
    not has_systemd_python(),
    reason="systemd-python (the systemd extra) is not installed: it needs libsystemd-dev",
)
def test_python_and_brewd_dependencies_run_under_memory_deny_write_execute(
    pg_dsn: str, redis_url: str
) -> None:
    """MemoryDenyWriteExecute=yes: the kernel's PR_SET_MDWE is the same rule, without systemd."""
    result = subprocess.run(
        [sys.executable, "-c", MDWE_CHILD, pg_dsn, redis_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
