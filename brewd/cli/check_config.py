"""`brewd check-config`: every effective value, secrets masked, and where each one came from."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from brewd.cli.legacy_env import LIBPQ_VARIABLES
from brewd.cli.settings import Loaded
from brewd.core.config import WHOLE_SECRET_KEYS, Config, masked, setting, setting_fields

# libpq reads these itself when database.url leaves a parameter out.
LIBPQ_ENVIRONMENT = (*LIBPQ_VARIABLES.values(), "PGPASSWORD", "PGPASSFILE", "PGSERVICE")


def render(loaded: Loaded, environ: Mapping[str, str]) -> str:
    """The report: a header, then `key = value  # origin` for every setting."""
    config = loaded.config
    lines = [
        f"# configuration OK (file: {config.source or 'none, built-in defaults'})",
        "# each value is followed by where it came from: default, the file, an environment "
        "variable, or a flag",
    ]
    for key, value in effective_values(config):
        lines.append(f"{key} = {value}  # {origin(key, loaded.origins, environ)}")
    return "\n".join(lines)


def origin(key: str, origins: Mapping[str, str], environ: Mapping[str, str]) -> str:
    if key in origins:
        return origins[key]
    if key == "database.url":
        used = [name for name in LIBPQ_ENVIRONMENT if environ.get(name)]
        given = f" ({', '.join(used)} set)" if used else ""
        return f"default: libpq's PG* variables{given} and defaults"
    return "default"


def effective_values(config: Config) -> list[tuple[str, str]]:
    """Every setting as `section.key`, `value`, secrets masked."""
    rows = [(key, _display(key, setting(config, key))) for key, _ in setting_fields()]
    for job, settings in config.jobs.items():
        for f in dataclasses.fields(settings):
            key = f"jobs.{job}.{f.name}"
            rows.append((key, _display(key, getattr(settings, f.name))))
    return rows


def _display(key: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    if key in WHOLE_SECRET_KEYS:
        return masked(key, str(value)) + " (set)"
    return masked(key, str(value).lower() if isinstance(value, bool) else str(value))
