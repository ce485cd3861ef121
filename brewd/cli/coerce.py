"""Coercing one setting's raw value (TOML or text) to its type, bounded before conversion."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from brewd.core.cron import Cron

TRUE = {"true", "1", "yes"}
FALSE = {"false", "0", "no"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ValueError("expected a boolean: true/false, 1/0 or yes/no")


# Bounds checked before any conversion or use: a number of thousands of digits makes int()
# raise, an infinite duration makes a timer overflow. No setting needs more than these.
MAX_WHOLE = 10**12
MAX_SECONDS = 10 * 366 * 86_400.0  # ten years
_WHOLE_TEXT = re.compile(r"^\s*[+-]?\d{1,13}\s*$")


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("expected a whole number")
    if isinstance(value, str) and not _WHOLE_TEXT.match(value):
        raise ValueError("expected a whole number")
    number = int(value)
    if abs(number) > MAX_WHOLE:
        raise ValueError(f"expected a whole number of at most {MAX_WHOLE:,}")
    return number


def _seconds(value: Any, key: str) -> float:
    """A duration: a number of seconds, or a string such as "90s", "10m", "2h"."""
    if isinstance(value, bool):
        raise TypeError('expected a duration such as 30, "90s", "10m" or "2h"')
    if isinstance(value, int | float):
        seconds = float(value) if abs(value) <= MAX_SECONDS else math.inf
    else:
        match = _DURATION.match(str(value)[:40])
        if not match or len(str(value)) > 40:
            raise ValueError('expected a duration such as 30, "90s", "10m" or "2h"')
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds) or abs(seconds) > MAX_SECONDS:
        raise ValueError("expected a duration of at most ten years")
    return seconds


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _cron(value: Any, key: str) -> Cron:
    return Cron(_str(value, key))


COERCE: Mapping[str, Callable[[Any, str], Any]] = {
    "bool": _bool,
    "int": _int,
    "float": _seconds,
    "str": _str,
    "Cron": _cron,
}
