"""Secret masking for log records: the last line of defence if a secret reaches a log call."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from brewd.core.config import Config
from brewd.core.masking import MASK, passwords_in

# Masking a very short value would shred unrelated words in every line; no real password or
# API key is this short.
MIN_SECRET_LENGTH = 4
# Environment variables that are secrets whole (the original's DB_PASSWORD and CLAUDE_API_KEY
# included: an environment file written for it may still hold them).
SECRET_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "CLAUDE_API_KEY",
    "PGPASSWORD",
    "DB_PASSWORD",
    "REDIS_PASSWORD",
)
# Variables whose value is a connection string or URL that may hold a password.
DSN_VARIABLES = ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_BASE_URL", "BREWD_PROACTIVE_BASE_URL")


def url_passwords(url: str) -> set[str]:
    """The passwords inside a URL or libpq key=value string, raw and percent-decoded."""
    return passwords_in(url)


def secrets_from_environ(environ: Mapping[str, str]) -> set[str]:
    """Secrets the environment holds: passwords in the URLs, API keys, the password variables."""
    found: set[str] = set()
    for name in (*DSN_VARIABLES, "BREWD_DATABASE_URL", "BREWD_REDIS_URL"):
        found |= url_passwords(environ.get(name, ""))
    for name in (*SECRET_VARIABLES, "BREWD_PROACTIVE_API_KEY"):
        if environ.get(name):
            found.add(environ[name])
    return found


def secret_values(config: Config) -> set[str]:
    """Secrets the configuration holds (from any source: file, environment, flags)."""
    found: set[str] = set()
    if config.database.url:
        found |= url_passwords(config.database.url)
    found |= url_passwords(config.redis.url)
    found |= url_passwords(config.proactive.base_url or "")
    if config.proactive.api_key:
        found.add(config.proactive.api_key)
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
