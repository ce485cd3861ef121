"""Secret masking for log records: the last line of defence if a secret reaches a log call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from brewd.core.config import (
    LEGACY_ENV,
    SECRET_KEYS,
    WHOLE_SECRET_KEYS,
    Config,
    env_name,
    setting,
)
from brewd.core.masking import MASK, passwords_in

# Masking a very short value would shred unrelated words in every line; no real password or
# API key is this short.
MIN_SECRET_LENGTH = 4
# Variables that are secrets whole but no setting: the original's DB_PASSWORD and
# CLAUDE_API_KEY (an environment file written for it may still hold them), libpq's and Redis's
# passwords.
OTHER_SECRET_VARIABLES = ("CLAUDE_API_KEY", "PGPASSWORD", "DB_PASSWORD", "REDIS_PASSWORD")


def _secrets_in(key: str, value: str | None) -> set[str]:
    """The secrets a secret setting's value holds: all of it, or the passwords inside it."""
    if not value:
        return set()
    return {value} if key in WHOLE_SECRET_KEYS else passwords_in(value)


def secrets_from_environ(environ: Mapping[str, str]) -> set[str]:
    """Secrets the environment holds: in every variable of a secret setting (BREWD_* and the
    original's names), and the password variables that are no setting."""
    found: set[str] = set()
    for key in SECRET_KEYS:
        legacy = [name for name, target in LEGACY_ENV.items() if target == key]
        for name in (env_name(key), *legacy):
            found |= _secrets_in(key, environ.get(name))
    found.update(environ[name] for name in OTHER_SECRET_VARIABLES if environ.get(name))
    return found


def secret_values(config: Config) -> set[str]:
    """Secrets the configuration holds (from any source: file, environment, flags)."""
    found: set[str] = set()
    for key in SECRET_KEYS:
        found |= _secrets_in(key, setting(config, key))
    return found


class Redactor:
    """Replaces known secret values by *** in text and in loguru records (as a patcher)."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        known = set(self._secrets) | {v for v in values if len(v) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret containing another is masked whole.
        self._secrets = tuple(sorted(known, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def patch(self, record: Any) -> None:
        """loguru patcher: mask the message, bound string values and the exception's text."""
        if not self._secrets:
            return
        record["message"] = self.mask(record["message"])
        extra = record["extra"]
        for key, value in extra.items():
            if isinstance(value, str):
                extra[key] = self.mask(value)
        exception = record["exception"]
        if exception is not None and isinstance(exception.value, BaseException):
            record["exception"] = exception._replace(value=self._masked(exception.value))

    def _masked(self, exc: BaseException, depth: int = 0) -> BaseException:
        """`exc`, or a stand-in of the same name whose text (and chain) is masked."""
        try:
            text = str(exc)
        except Exception:  # a broken __str__ must not break the log call
            return exc
        cause, context = exc.__cause__, exc.__context__
        if depth < 10:  # chains are short; a cycle must not recurse forever
            cause = cause if cause is None else self._masked(cause, depth + 1)
            context = context if context is None else self._masked(context, depth + 1)
        masked_text = self.mask(text)
        if masked_text == text and cause is exc.__cause__ and context is exc.__context__:
            return exc
        cls = type(exc)
        namespace = {"__module__": cls.__module__, "__str__": _fixed(masked_text)}
        stand_in: BaseException = type(cls.__name__, (Exception,), namespace)()
        stand_in = stand_in.with_traceback(exc.__traceback__)
        stand_in.__cause__, stand_in.__context__ = cause, context
        stand_in.__suppress_context__ = exc.__suppress_context__
        return stand_in


def _fixed(text: str) -> Any:
    def __str__(self: BaseException) -> str:
        return text

    return __str__
