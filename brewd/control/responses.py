"""JSON responses and the error middleware: every failure becomes `{"error": ...}`, no traceback."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler
from loguru import logger

from brewd.control.wire import encode
from brewd.core.errors import BrewdError, JobAlreadyRunning, UnknownJob

JSON_TYPE = "application/json"


def json_response(
    body: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return encoded_response(encode(body), status, headers)


def encoded_response(
    data: bytes, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A response from JSON already encoded (shared answers are encoded once, not per request)."""
    return web.Response(body=data, status=status, headers=headers, content_type=JSON_TYPE)


def error_response(status: int, message: str, **extra: object) -> web.Response:
    return json_response({"error": message, **extra}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into a JSON answer: 4xx for the client's mistakes, 409 for a
    running job, 503 when the daemon cannot serve (a dependency down or slow, shutting down),
    and a logged 500 as the last resort."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        reason = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None
        return json_response({"error": reason or exc.reason.lower()}, exc.status, headers)
    except UnknownJob as exc:
        return error_response(404, str(exc), available_jobs=exc.available)
    except JobAlreadyRunning as exc:
        return error_response(409, str(exc))
    except (BrewdError, TimeoutError) as exc:  # a dependency down, the daemon stopping, ...
        return _unavailable(request, exc)
    except Exception as exc:  # the last resort; the routes are built so this does not happen
        logger.bind(event="control_error", path=request.path).error(
            f"control: {request.method} {request.path}: {type(exc).__name__}: {exc}"
        )
        return error_response(500, "internal error (logged by the daemon)")


def _unavailable(request: web.Request, exc: Exception) -> web.Response:
    if isinstance(exc, TimeoutError):
        message = "the scheduler did not answer in time (is the database slow?)"
    else:
        message = str(exc) or type(exc).__doc__ or "unavailable"
    logger.bind(event="control_unavailable", path=request.path).warning(f"control: {message}")
    return json_response({"error": message}, 503, {"Retry-After": "5"})


def protocol_error(status: int, message: str | None) -> web.Response:
    """The answer to a request too malformed to route (bad request line, oversized header)."""
    if status >= 500:
        return error_response(500, "internal error (logged by the daemon)")
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    detail = message.strip().splitlines()[0] if message and message.strip() else None
    return error_response(status, f"{phrase.lower()}: {detail}" if detail else phrase.lower())
