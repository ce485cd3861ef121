"""The package's postinst gives /etc/brewd/brewd.env mode 0600 root:root (systemd reads it as
root; members of the brewd group use the control socket and must not read the secrets), and
tightens the 0640 root:brewd file earlier packages created. Run for real, under DPKG_ROOT."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POSTINST = REPO / "packaging" / "debian" / "brewd.postinst"

pytestmark = pytest.mark.root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A DPKG_ROOT with what postinst expects: the sysusers.d file and the env template."""
    if os.geteuid() != 0:
        pytest.skip("needs root: postinst chowns to root and creates the brewd user")
    if shutil.which("systemd-sysusers") is None:
        pytest.skip("needs systemd-sysusers, as the package does")
    sysusers = tmp_path / "usr/lib/sysusers.d"
    sysusers.mkdir(parents=True)
    shutil.copy(REPO / "systemd/brewd.sysusers", sysusers / "brewd.conf")
    (tmp_path / "usr/share/brewd").mkdir(parents=True)
    shutil.copy(REPO / "brewd/examples/brewd.env", tmp_path / "usr/share/brewd/brewd.env")
    (tmp_path / "etc/brewd").mkdir(parents=True)
    return tmp_path


def configure(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(POSTINST), "configure", ""],
        env={"PATH": os.environ["PATH"], "DPKG_ROOT": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def owner_and_mode(path: Path) -> tuple[int, int, str]:
    st = path.stat()
    return st.st_uid, st.st_gid, oct(stat.S_IMODE(st.st_mode))


def test_a_new_install_creates_it_0600_root_root(root: Path) -> None:
    configure(root)
    env_file = root / "etc/brewd/brewd.env"
    assert owner_and_mode(env_file) == (0, 0, "0o600")
    assert env_file.read_text() == (REPO / "brewd/examples/brewd.env").read_text()


def test_an_upgrade_tightens_the_earlier_0640_root_brewd_file(root: Path) -> None:
    env_file = root / "etc/brewd/brewd.env"
    env_file.write_text("DB_PASSWORD=kept-as-it-was\n")
    os.chown(env_file, 0, 4242)  # the old group: brewd's gid on that host
    env_file.chmod(0o640)
    done = configure(root)
    assert owner_and_mode(env_file) == (0, 0, "0o600")
    assert env_file.read_text() == "DB_PASSWORD=kept-as-it-was\n"
    assert "is now 0600 root:root" in done.stdout


def test_a_mode_the_operator_chose_is_left_alone(root: Path) -> None:
    env_file = root / "etc/brewd/brewd.env"
    env_file.write_text("X=1\n")
    env_file.chmod(0o400)
    configure(root)
    assert owner_and_mode(env_file) == (0, 0, "0o400")
