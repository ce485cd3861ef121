"""The BrewdError tree: every error brewd raises on purpose, translated once at the boundary."""

from __future__ import annotations


class BrewdError(Exception):
    """brewd failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigError(BrewdError):
    """The configuration is invalid."""

    exit_code = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops a restart loop


class DatabaseError(BrewdError):
    """The database failed."""


class TransientDatabaseError(DatabaseError):
    """The database failed in a way a retry may fix (connection lost, serialization, deadlock)."""


class DatabaseUnavailable(TransientDatabaseError):
    """The database cannot be reached."""


class CacheError(BrewdError):
    """Redis failed; cache work is best-effort and never undoes database work."""


class FenceLost(BrewdError):
    """This node no longer holds the claim on its run; it must not commit further batches."""


class JobCancelled(BrewdError):
    """The run was asked to stop (timeout or shutdown) and stopped between batches."""


class JobTimeout(JobCancelled):
    """The run exceeded its timeout."""


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
