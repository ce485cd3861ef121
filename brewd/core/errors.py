"""The BrewdError tree: every error brewd raises on purpose, translated once at the boundary."""

from __future__ import annotations

from brewd.core.exits import (
    EX_CANTCREAT,
    EX_CONFIG,
    EX_DATAERR,
    EX_NOHOST,
    EX_NOPERM,
    EX_NOUSER,
    EX_SOFTWARE,
    EX_UNAVAILABLE,
    EX_USAGE,
)


class BrewdError(Exception):
    """brewd failed."""

    exit_code = EX_SOFTWARE  # subclasses name the sysexits code of their kind (core/exits.py)

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(BrewdError):
    """The configuration is invalid."""

    exit_code = EX_CONFIG  # systemd's RestartPreventExitStatus=78 stops a restart loop


class UsageError(BrewdError):
    """The command line is wrong."""

    exit_code = EX_USAGE


class ControlSocketError(BrewdError):
    """The control socket cannot be created."""

    exit_code = EX_CANTCREAT  # a path, directory or permission problem an operator fixes


class ControlSocketInUse(BrewdError):
    """Another brewd already listens on the control socket."""

    exit_code = EX_UNAVAILABLE  # the path is taken by a live daemon


class DatabaseError(BrewdError):
    """The database failed."""

    exit_code = EX_DATAERR  # the server answered but refused the data or the schema


class TransientDatabaseError(DatabaseError):
    """The database failed in a way a retry may fix (connection lost, serialization, deadlock)."""

    exit_code = EX_UNAVAILABLE  # the server is busy or gone, the data is not at fault


class DatabaseUnavailable(TransientDatabaseError):
    """The database cannot be reached."""

    exit_code = EX_UNAVAILABLE  # refused, timed out, not answering
    permanent = False  # True: retrying cannot help until someone fixes the configuration


class DatabaseAuthFailed(DatabaseUnavailable):
    """PostgreSQL refused the credentials (wrong password, or no pg_hba.conf entry)."""

    exit_code = EX_NOPERM
    permanent = True


class DatabaseMissing(DatabaseUnavailable):
    """The database or the role named in the configuration does not exist."""

    exit_code = EX_NOUSER
    permanent = True


class DatabaseHostUnknown(DatabaseUnavailable):
    """The database host name does not resolve."""

    exit_code = EX_NOHOST
    permanent = True


class DataError(DatabaseError):
    """The database answered, but its schema or data cannot be accepted (sysexits EX_DATAERR)."""


class CannotAdopt(DataError):
    """The database holds tables brewd cannot adopt: something it needs is missing."""


class CacheError(BrewdError):
    """Redis failed; cache work is best-effort and never undoes database work."""


class FenceLost(BrewdError):
    """This node no longer holds the claim on its run; it must not commit further batches."""


class JobCancelled(BrewdError):
    """The run was asked to stop (timeout or shutdown) and stopped between batches."""


class UnknownJob(BrewdError):
    """No job has that name."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"unknown job {name!r} (available: {', '.join(available)})")
        self.name = name
        self.available = available


class JobAlreadyRunning(BrewdError):
    """The job is already running (on this node or another)."""


class ClaudeError(BrewdError):
    """The Claude API failed (error status, timeout, connection, malformed reply)."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when the API answered with an error
        self.retry_after = retry_after  # seconds the API asked us to wait, if it did

    @property
    def retryable(self) -> bool:
        """Worth one more try: a timeout, no connection, 408, 409, 429 or a server error."""
        return self.status is None or self.status in (408, 409, 429) or self.status >= 500

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


def first_line(exc: BaseException) -> str:
    """An error in one line: the first line of its message, or its type's name if it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
