"""`brewd plan` (issue 3 fills it)."""

from __future__ import annotations

from brewd.config import Config
from brewd.errors import BrewdError


def print_plan(config: Config, *, hours: int) -> int:
    raise BrewdError("brewd plan is not implemented yet (issue 3)")
