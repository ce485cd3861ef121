"""The original scheduler's environment: DB_*, REDIS_HOST/PORT/PASSWORD and winston's log levels.

The original (src/config/database.ts) built its pool from DB_HOST, DB_PORT, DB_NAME, DB_USER and
DB_PASSWORD alone, each falling back to a default when unset or empty; it never read
DATABASE_URL. brewd reads DATABASE_URL first (SPEC §2), and the DB_* variables when it is unset.
Its src/config/redis.ts read only REDIS_URL; REDIS_HOST and REDIS_PORT were documented in its
.env.example, so brewd honours them (and REDIS_PASSWORD) when REDIS_URL is unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from brewd.core.config import RedisConfig
from brewd.core.errors import ConfigError

# winston's npm levels, each mapped to the nearest loguru level. `http` shows what `info` shows:
# brewd logs no per-request lines at that level. `verbose` (between info and debug) opens up to
# debug, the first loguru level below info.
WINSTON_LEVELS: Mapping[str, str] = {
    "error": "error",
    "warn": "warning",
    "info": "info",
    "http": "info",
    "verbose": "debug",
    "debug": "debug",
    "silly": "trace",
}

DB_VARIABLES: Mapping[str, str] = {
    "DB_HOST": "host",
    "DB_PORT": "port",
    "DB_NAME": "dbname",
    "DB_USER": "user",
    "DB_PASSWORD": "password",
}
# A parameter no DB_* variable gives: libpq's own variable if set, else the original's default.
# No default password: the original's was the literal "password"; brewd leaves it to
# PGPASSWORD or ~/.pgpass rather than send a guess.
LIBPQ_VARIABLES: Mapping[str, str] = {
    "host": "PGHOST",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
}
ORIGINAL_DB_DEFAULTS: Mapping[str, str] = {
    "host": "localhost",
    "port": "5432",
    "dbname": "brew_me_in",
    "user": "postgres",
}
REDIS_VARIABLES = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")
# REDIS_HOST or REDIS_PORT alone: the other part as in brewd's default redis.url.
_DEFAULT_REDIS = urlsplit(RedisConfig().url)
REDIS_DEFAULT_HOST = str(_DEFAULT_REDIS.hostname)
REDIS_DEFAULT_PORT = str(_DEFAULT_REDIS.port)


@dataclass(frozen=True)
class Derived:
    """A setting composed from several variables, and which ones."""

    value: str
    origin: str


def log_level(name: str) -> str:
    """loguru's name for a level given in loguru's or winston's vocabulary (any case)."""
    lowered = name.strip().lower()
    return WINSTON_LEVELS.get(lowered, lowered)


def database_url(environ: Mapping[str, str], url_variable: str) -> Derived | None:
    """A libpq conninfo from the DB_* variables, when `url_variable` (DATABASE_URL or
    BREWD_DATABASE_URL) is unset and any DB_* is set; ConfigError if both are set and differ."""
    given = {param: environ[name] for name, param in DB_VARIABLES.items() if environ.get(name)}
    if not given:
        return None
    if environ.get(url_variable):
        _check_agreement(environ[url_variable], url_variable, given)
        return None
    if "port" in given:
        _check_port("DB_PORT", given["port"])
    params = dict(given)
    for param, default in ORIGINAL_DB_DEFAULTS.items():
        if param not in params and not environ.get(LIBPQ_VARIABLES[param]):
            params[param] = default
    from psycopg.conninfo import make_conninfo  # only here: the import costs ~50 ms

    names = [name for name, param in DB_VARIABLES.items() if param in given]
    return Derived(make_conninfo(**params), ", ".join(names) + " (the original's variables)")


def _check_agreement(url: str, url_variable: str, given: Mapping[str, str]) -> None:
    """The original read DB_* and ignored DATABASE_URL, so a file written for it may hold a
    placeholder DATABASE_URL (its .env.example has one): refuse to guess which one is meant."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        parsed = conninfo_to_dict(url)
    except ProgrammingError:
        return  # validation names the malformed URL
    differ = [
        name
        for name, param in DB_VARIABLES.items()
        if param in given and param in parsed and str(parsed[param]) != given[param]
    ]
    if differ:
        raise ConfigError(
            f"{url_variable} and {', '.join(differ)} name different connections (the original "
            f"scheduler read only DB_*; brewd uses {url_variable} when it is set): remove "
            f"{url_variable} from the environment, or make them agree"
        )


def redis_url(environ: Mapping[str, str]) -> Derived | None:
    """redis://[:password@]host:port/0 from REDIS_HOST/PORT/PASSWORD when any is set (the
    caller only asks when REDIS_URL is unset)."""
    given = {name: environ[name] for name in REDIS_VARIABLES if environ.get(name)}
    if not given:
        return None
    host = given.get("REDIS_HOST", REDIS_DEFAULT_HOST)
    port = given.get("REDIS_PORT", REDIS_DEFAULT_PORT)
    _check_port("REDIS_PORT", port)
    if any(c.isspace() or c in "/@?#[]" for c in host):
        raise ConfigError(f"REDIS_HOST = {host!r}: expected a host name or an IP address")
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    password = given.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return Derived(f"redis://{auth}{host}:{port}/0", ", ".join(given))


def _check_port(name: str, value: str) -> None:
    # Bounded before conversion: int() of thousands of digits is slow, then refused anyway.
    if not (len(value) <= 5 and value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise ConfigError(f"{name} = {value!r}: expected a port number from 1 to 65535")
