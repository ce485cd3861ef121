"""A local fake of the Anthropic Messages API: aiohttp on 127.0.0.1, speaking the real wire format.

The real `anthropic` SDK is pointed at it through `base_url`. Tests program what it answers
(text, an HTTP error with the API's error body, a delay, garbage, a 429 with retry-after) and
read back every request body it received, so they can prove what left the system, and when
each request arrived, so they can count requests per minute as the real API does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# The API's error `type` for each HTTP status (docs: "Errors", HTTP errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """One programmed answer: a text reply, an HTTP error, garbage, after an optional delay."""

    text: str = "Welcome in! Two of you here already: the perfect size for a chat."
    status: int = 200
    delay: float = 0.0
    garbage: bool = False
    retry_after: str | None = None


class FakeClaudeAPI:
    """The fake server, running its own event loop in a background thread."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []  # wall time (time.time()) each request arrived
        self.statuses: list[int] = []  # the status answered, in arrival order
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._release: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.bodies)

    def per_minute(self) -> Counter[int]:
        """Requests by calendar minute of arrival (epoch minutes), as a per-minute limit counts."""
        with self._lock:
            return Counter(int(t // 60) for t in self.arrivals)

    def busiest_window(self, seconds: float = 60.0) -> int:
        """The most requests that arrived within any `seconds`-long window."""
        with self._lock:
            times = sorted(self.arrivals)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= seconds:
                start += 1
            most = max(most, end - start + 1)
        return most

    def then(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then with the default."""
        with self._lock:
            self._queue.extend(replies)

    def start(self) -> FakeClaudeAPI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> FakeClaudeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def _stop(self) -> None:
        assert self._release is not None
        assert self._runner is not None
        self._release.set()  # delayed answers finish now instead of holding the shutdown
        await self._runner.cleanup()

    def _next(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    async def _messages(self, request: web.Request) -> web.Response:
        raw = await request.read()
        reply = self._next()
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "request body is not valid JSON")
        with self._lock:
            self.raw.append(raw)
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            self.arrivals.append(time.time())
            self.statuses.append(reply.status)
        if not _has_credential(request) or not request.headers.get("anthropic-version"):
            return _error(401, "invalid x-api-key")
        missing = [k for k in ("model", "max_tokens", "messages") if k not in body]
        if missing:
            return _error(400, f"{missing[0]}: Field required")
        if reply.delay:
            assert self._release is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), reply.delay)
        return _answer(reply, body)


def _has_credential(request: web.Request) -> bool:
    # SDK 2.x sends `Authorization: Bearer <key>`; older ones and curl examples use x-api-key.
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return bool(request.headers.get("x-api-key") or bearer)


def _answer(reply: Reply, body: dict[str, Any]) -> web.Response:
    if reply.garbage:
        return web.Response(text='{"id": "msg_01", "content": [', content_type="application/json")
    if reply.status != 200:
        headers = {"retry-after": reply.retry_after} if reply.retry_after else None
        return _error(reply.status, "simulated failure", headers)
    return web.json_response(message(reply.text, body["model"]), headers=_request_id())


def message(text: str, model: str) -> dict[str, Any]:
    """A Messages API response body, as the real API sends it."""
    return {
        "id": f"msg_01FAKE{next(_ids):018d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 120,
            "output_tokens": max(1, len(text) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def _error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    request_id = _request_id()
    body = {
        "type": "error",
        "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": text},
        "request_id": request_id["request-id"],
    }
    return web.json_response(body, status=status, headers={**request_id, **(headers or {})})


def _request_id() -> dict[str, str]:
    return {"request-id": f"req_01FAKE{next(_ids):018d}"}
