"""Loading the configuration: its sources in order and coercion, each error one actionable line
(the checks across settings are in brewd/cli/validate.py)."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brewd.cli.coerce import COERCE
from brewd.cli.legacy_env import database_url, log_level, redis_url
from brewd.cli.validate import validate
from brewd.core.config import (
    DEFAULT_CONFIG_PATH,
    JOB_DEFAULTS,
    LEGACY_ENV,
    SECTIONS,
    Config,
    JobConfig,
    default_jobs,
    masked,
)
from brewd.core.errors import ConfigError


@dataclass(frozen=True)
class _Raw:
    """One setting as given by a source, before coercion: where it came from names it in errors."""

    value: Any
    origin: str


@dataclass(frozen=True)
class Loaded:
    """The configuration and, per `section.key` set by a source, where its value came from
    (a file path, an environment variable's name, a flag); keys not in `origins` are defaults."""

    config: Config
    origins: Mapping[str, str]


def load(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective configuration; raise ConfigError naming the key and the problem."""
    return load_explained(path, environ, overrides).config


def load_explained(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> Loaded:
    """load(), also saying where each value came from; `flags` names the flag that set an
    override (`--log-level`), otherwise it is `--set`."""
    environ = os.environ if environ is None else environ
    explicit = path or environ.get("BREWD_CONFIG")
    file_path = explicit or DEFAULT_CONFIG_PATH
    raw: dict[str, _Raw] = {}
    raw.update(_from_file(file_path, required=bool(explicit)))
    raw.update(_from_environ(environ))
    flags = flags or {}
    raw.update({k: _Raw(v, flags.get(k, "--set")) for k, v in (overrides or {}).items()})
    config = _build(raw)
    config = dataclasses.replace(config, source=file_path if os.path.exists(file_path) else None)
    config, origins = _canonical_level(config, {key: item.origin for key, item in raw.items()})
    validate(config)
    return Loaded(config, origins)


def _canonical_level(config: Config, origins: dict[str, str]) -> tuple[Config, dict[str, str]]:
    """The log level under loguru's name; winston's names (the original's LOG_LEVEL) map to
    the nearest loguru level, and the origin says which name was given."""
    given = config.logging.level
    level = log_level(given)
    if level == given:
        return config, origins
    if "logging.level" in origins and level != given.strip().lower():
        origins["logging.level"] += f" ({given!r}, winston's name)"
    logging = dataclasses.replace(config.logging, level=level)
    return dataclasses.replace(config, logging=logging), origins


def _from_file(path: str, *, required: bool) -> dict[str, _Raw]:
    try:
        with open(path, "rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path}: not found") from None
        return {}
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 text (byte {exc.start})") from None
    return _flatten(document, path)


def _flatten(document: Mapping[str, Any], origin: str) -> dict[str, _Raw]:
    flat: dict[str, _Raw] = {}
    for section, table in document.items():
        if section != "jobs" and section not in SECTIONS:
            raise ConfigError(f"[{section}] in {origin}: unknown section")
        if not isinstance(table, dict):
            raise ConfigError(f"{section} in {origin}: must be a table ([{section}])")
        if section != "jobs":
            flat.update({f"{section}.{key}": _Raw(v, origin) for key, v in table.items()})
            continue
        for job, settings in table.items():
            if not isinstance(settings, dict):
                raise ConfigError(f"jobs.{job} in {origin}: must be a table ([jobs.{job}])")
            flat.update({f"jobs.{job}.{key}": _Raw(v, origin) for key, v in settings.items()})
    return flat


def _from_environ(environ: Mapping[str, str]) -> dict[str, _Raw]:
    flat = _original_environ(environ)
    jobs_by_upper = {name.upper(): name for name in JOB_DEFAULTS}
    for name, value in environ.items():
        if not name.startswith("BREWD_") or name == "BREWD_CONFIG":
            continue
        rest = name.removeprefix("BREWD_")
        section = next((s for s in (*SECTIONS, "jobs") if rest.startswith(s.upper() + "_")), None)
        if section is None:
            continue  # BREWD_TEST_* and friends belong to other tools
        key = rest.removeprefix(section.upper() + "_").lower()
        if section == "jobs":
            job = next(
                (j for u, j in jobs_by_upper.items() if key.upper().startswith(u + "_")), None
            )
            if job is None:
                raise ConfigError(f"{name}: unknown job (known: {', '.join(JOB_DEFAULTS)})")
            key = f"{job}.{key[len(job) + 1 :]}"
        flat[f"{section}.{key}"] = _Raw(value, name)
    return flat


def _original_environ(environ: Mapping[str, str]) -> dict[str, _Raw]:
    """The original system's names (SPEC §2, §10); DB_* and REDIS_HOST/PORT/PASSWORD only
    where the URL variable is unset (an empty value counts as unset, as the original had it)."""
    # Empty is unset, as the original read them (`x || default`, `x !== 'false'`), so a line
    # such as `LOG_LEVEL=` in its environment file keeps the default.
    flat = {key: _Raw(environ[name], name) for name, key in LEGACY_ENV.items() if environ.get(name)}
    url_variable = "BREWD_DATABASE_URL" if environ.get("BREWD_DATABASE_URL") else "DATABASE_URL"
    derived = database_url(environ, url_variable)
    if derived is not None:
        flat["database.url"] = _Raw(derived.value, derived.origin)
    if not (environ.get("REDIS_URL") or environ.get("BREWD_REDIS_URL")):
        derived = redis_url(environ)
        if derived is not None:
            flat["redis.url"] = _Raw(derived.value, derived.origin)
    return flat


def _build(raw: Mapping[str, _Raw]) -> Config:
    sections: dict[str, Any] = {}
    jobs = default_jobs()
    for key in sorted(raw):
        item = raw[key]
        parts = key.split(".")
        if parts[0] == "jobs" and len(parts) == 3:
            jobs[parts[1]] = _set(jobs, parts[1], parts[2], item, key)
            continue
        if len(parts) != 2 or parts[0] not in SECTIONS:
            raise ConfigError(f"{key} ({item.origin}): unknown key")
        section, name = parts
        current = sections.get(section) or SECTIONS[section]()
        sections[section] = _replace(current, name, item, key)
    return Config(**sections, jobs=jobs)


def _set(jobs: Mapping[str, JobConfig], job: str, name: str, item: _Raw, key: str) -> JobConfig:
    if job not in jobs:
        raise ConfigError(f"jobs.{job} ({item.origin}): unknown job (known: {', '.join(jobs)})")
    return _replace(jobs[job], name, item, key)  # type: ignore[no-any-return]


def _replace(current: Any, name: str, item: _Raw, key: str) -> Any:
    hints = {f.name: f.type for f in dataclasses.fields(current)}
    if name not in hints:
        raise ConfigError(f"{key} ({item.origin}): unknown key")
    return dataclasses.replace(current, **{name: _coerce(str(hints[name]), item, key)})


def _coerce(kind: str, item: _Raw, key: str) -> Any:
    value = item.value
    if kind.endswith("| None") and value in ("", None):
        return None
    base = kind.removesuffix(" | None")
    try:
        return COERCE[base](value, key)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key} = {_shown(key, value)} ({item.origin}): {exc}") from None


def _shown(key: str, value: Any) -> str:
    text = masked(key, repr(value))
    # One line a person can read: a value thousands of characters long is cut short.
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text)} characters)"
