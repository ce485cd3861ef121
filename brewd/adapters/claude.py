"""Claude: the café host's writer, a thin client over the official `anthropic` SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING

from brewd.core.config import ProactiveConfig
from brewd.core.errors import ClaudeError

if TYPE_CHECKING:
    # Imported only when an API key is configured: the SDK takes seconds to import, which a
    # daemon without a key (the default) should not pay at every start.
    import anthropic

# Written out rather than left to the SDK, so that the configuration (which already honours
# ANTHROPIC_BASE_URL) is the one source of truth and nothing below the daemon reads os.environ.
DEFAULT_BASE_URL = "https://api.anthropic.com"


class ClaudeWriter:
    """Writes one short message from a system prompt and a user prompt.

    Thread-safe (the SDK's HTTP client is), so one writer serves the job's worker threads.
    The SDK's own retries are bounded by `max_retries`; every failure comes out as ClaudeError.
    """

    def __init__(self, client: anthropic.Anthropic, *, model: str, max_tokens: int) -> None:
        self._client = client
        self.model = model
        self.max_tokens = max_tokens

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
            raise ClaudeError(f"claude: HTTP {exc.status_code} {kind}") from exc
        except anthropic.APIConnectionError as exc:
            raise ClaudeError(f"claude: cannot connect ({type(exc).__name__})") from exc
        except (anthropic.AnthropicError, ValueError) as exc:
            # ValueError: the SDK lets a malformed JSON body escape as JSONDecodeError.
            raise ClaudeError(f"claude: malformed answer ({type(exc).__name__})") from exc
        text = "".join(block.text for block in reply.content if block.type == "text")
        if not text:
            raise ClaudeError(f"claude: answer holds no text (stop_reason {reply.stop_reason})")
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
        max_retries=config.max_retries,
    )
    return ClaudeWriter(client, model=config.model, max_tokens=config.max_tokens)
