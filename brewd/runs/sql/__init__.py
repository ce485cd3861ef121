"""The SQL of the run ledger (claims, records, history), one named statement per file."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def load(name: str) -> str:
    """The text of brewd/runs/sql/<name>.sql, read once."""
    return resources.files(__name__).joinpath(f"{name}.sql").read_text("utf-8")
