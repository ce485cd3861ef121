"""`brewd demo` (issue 9 fills it)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from brewd.errors import BrewdError


def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    raise BrewdError("brewd demo is not implemented yet (issue 9)")
