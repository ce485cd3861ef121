"""brewctl's permission hint names the group that really guards the socket."""

from __future__ import annotations

import grp
import os
from pathlib import Path

import pytest

from brewd.cli.client import explain, socket_group


def test_the_hint_names_the_sockets_own_group(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give the file another group")
    path = tmp_path / "brewd.sock"
    path.write_text("")
    os.chown(path, -1, grp.getgrnam("nogroup").gr_gid)
    text = explain(str(path), PermissionError(13, "Permission denied"), 30)
    assert "join the group 'nogroup' (`sudo usermod -aG nogroup $USER`" in text
    assert "brewd" not in text.replace(str(path), "")


def test_an_unsearchable_directory_names_the_directorys_group(tmp_path: Path) -> None:
    directory = tmp_path / "run"
    directory.mkdir()
    expected = grp.getgrgid(os.stat(directory).st_gid).gr_name
    assert socket_group(str(directory / "missing.sock")) == expected


def test_nothing_known_says_so() -> None:
    assert socket_group("/nonexistent-dir-x/y/brewd.sock") is None
    text = explain("/nonexistent-dir-x/y/s", PermissionError(13, "Permission denied"), 30)
    assert "join the socket's group (see `ls -l`" in text
