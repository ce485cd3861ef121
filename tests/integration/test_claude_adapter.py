"""The Claude adapter: the real anthropic SDK against the local fake of the Messages API."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from brewd.adapters.claude import make_claude
from brewd.core.config import ProactiveConfig
from brewd.core.errors import ClaudeError
from tests.fakes.claude_api import FakeClaudeAPI, Reply

KEY = "sk-ant-test-TOPSECRET"


@pytest.fixture
def fake() -> Iterator[FakeClaudeAPI]:
    with FakeClaudeAPI() as api:
        yield api


def writer(base_url: str, **settings):
    settings = {"max_retries": 0, "timeout": 0.5, **settings}
    made = make_claude(ProactiveConfig(api_key=KEY, base_url=base_url, **settings))
    assert made is not None
    return made


def test_no_api_key_no_writer():
    assert make_claude(ProactiveConfig(api_key=None)) is None
    assert make_claude(ProactiveConfig(api_key="")) is None


def test_writes_with_the_configured_model_and_limits(fake):
    w = writer(fake.base_url, model="claude-sonnet-4-6", max_tokens=99)
    assert w.write("be nice", "say hi") == Reply().text
    assert fake.bodies == [
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 99,
            "system": "be nice",
            "messages": [{"role": "user", "content": "say hi"}],
        }
    ]
    w.close()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(status=500), "claude: HTTP 500 api_error"),
        (Reply(status=529), "claude: HTTP 529 overloaded_error"),
        (Reply(status=429), "claude: HTTP 429 rate_limit_error"),
        (Reply(status=401), "claude: HTTP 401 authentication_error"),
        (Reply(delay=3.0), "claude: no answer within 0.5s"),
        (Reply(garbage=True), "claude: malformed answer (JSONDecodeError)"),
        (Reply(text=""), "claude: answer holds no text (stop_reason end_turn)"),
    ],
)
def test_every_failure_is_one_clear_claude_error_without_the_key(fake, reply, error):
    fake.then(reply)
    with pytest.raises(ClaudeError) as caught:
        writer(fake.base_url).write("s", "p")
    assert str(caught.value) == error
    assert KEY not in repr(caught.value)


@pytest.mark.parametrize(
    ("reply", "status", "retry_after", "retryable"),
    [
        (Reply(status=429, retry_after="30"), 429, 30.0, True),
        (Reply(status=429, retry_after="soon"), 429, None, True),
        (Reply(status=529), 529, None, True),
        (Reply(status=400), 400, None, False),
        (Reply(garbage=True), 200, None, False),
    ],
)
def test_errors_carry_status_and_retry_after_and_the_sdk_never_retries(
    fake, reply, status, retry_after, retryable
):
    fake.then(reply)
    w = writer(fake.base_url, max_retries=3)  # the job's retries, not the SDK's
    with pytest.raises(ClaudeError) as caught:
        w.write("s", "p")
    w.close()
    error = caught.value
    assert (error.status, error.retry_after, error.retryable) == (status, retry_after, retryable)
    assert fake.calls == 1  # every try must pass the shared budget, so the SDK makes one


def test_an_unreachable_api_is_a_claude_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClaudeError, match=r"^claude: cannot connect \(APIConnectionError\)$"):
        writer(f"http://127.0.0.1:{port}").write("s", "p")


def test_the_key_stays_out_of_repr_and_config_display():
    config = ProactiveConfig(api_key=KEY)
    assert KEY not in repr(config)
    assert KEY not in repr(make_claude(config))
