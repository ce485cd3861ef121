"""The daemon's composition root (issue 3 fills it)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from brewd.config import Config
from brewd.errors import BrewdError


def run_daemon(config: Config, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    raise BrewdError("brewd run is not implemented yet (issue 3)")
