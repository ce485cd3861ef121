"""Claude: the café host's writer, a thin client over the official `anthropic` SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from brewd.core.config import ProactiveConfig
from brewd.core.errors import ClaudeError

if TYPE_CHECKING:
    # Imported only when an API key is configured: the SDK takes seconds to import, which a
    # daemon without a key (the default) should not pay at every start.
    import anthropic

# Written out rather than left to the SDK, so that the configuration (which already honours
# ANTHROPIC_BASE_URL) is the one source of truth and nothing below the daemon reads os.environ.
DEFAULT_BASE_URL = "https://api.anthropic.com"


class Writer(Protocol):
    """What jobs need of a writer (ClaudeWriter is one; tests may give their own)."""

    model: str
    max_retries: int

    def write(self, system: str, prompt: str) -> str: ...


class ClaudeWriter:
    """Writes one short message from a system prompt and a user prompt.

    Thread-safe (the SDK's HTTP client is), so one writer serves the job's worker threads.
    Every failure comes out as ClaudeError, with the HTTP status and `retry-after` when the API
    gave them. The SDK does not retry: every request must pass the shared budget first, so the
    job retries (up to `max_retries`), not the SDK behind its back.
    """

    def __init__(
        self, client: anthropic.Anthropic, *, model: str, max_tokens: int, max_retries: int = 0
    ) -> None:
        self._client = client
        self.model = model
        self.max_tokens = max_tokens
        self.max_retries = max_retries

    def write(self, system: str, prompt: str) -> str:
        """The reply's text, or ClaudeError naming what went wrong (never the API key)."""
        import anthropic

        try:
            reply = self._client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
            )
        except anthropic.APITimeoutError as exc:
            raise ClaudeError(f"claude: no answer within {self._client.timeout}s") from exc
        except anthropic.APIStatusError as exc:
            kind = exc.type or "unknown_error"
            raise ClaudeError(
                f"claude: HTTP {exc.status_code} {kind}",
                status=exc.status_code,
                retry_after=retry_after(exc.response.headers),
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise ClaudeError(f"claude: cannot connect ({type(exc).__name__})") from exc
        except (anthropic.AnthropicError, ValueError) as exc:
            # ValueError: the SDK lets a malformed JSON body escape as JSONDecodeError.
            raise ClaudeError(
                f"claude: malformed answer ({type(exc).__name__})", status=200
            ) from exc
        text = "".join(block.text for block in reply.content if block.type == "text")
        if not text:
            raise ClaudeError(
                f"claude: answer holds no text (stop_reason {reply.stop_reason})", status=200
            )
        return text

    def close(self) -> None:
        self._client.close()


def make_claude(config: ProactiveConfig) -> ClaudeWriter | None:
    """The writer, or None without an API key (the job then uses its templates)."""
    if not config.api_key:
        return None
    import anthropic

    client = anthropic.Anthropic(
        api_key=config.api_key,
        base_url=config.base_url or DEFAULT_BASE_URL,
        timeout=config.timeout,
        max_retries=0,  # the job retries, each try through the shared budget
    )
    return ClaudeWriter(
        client, model=config.model, max_tokens=config.max_tokens, max_retries=config.max_retries
    )


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The seconds asked by `retry-after-ms` or `retry-after` (seconds; an HTTP date is not
    used by the API), or None when absent or unreadable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if 0 <= seconds < 24 * 3600:
            return seconds
    return None
