"""The read-only TCP listener's application (`http.listen`): the status page, the original
scheduler's /health and /api/scheduler/status, /metrics. Nothing here changes anything:
trigger, pause and resume stay on the Unix socket, where the peer's uid is known."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from importlib import resources

from aiohttp import web
from aiohttp.typedefs import Handler

from brewd.adapters.metrics import CONTENT_TYPE, Metrics
from brewd.control import legacy
from brewd.control.calls import FRESH_FOR, PortCalls
from brewd.control.port import ControlPort
from brewd.control.responses import encoded_response, errors_as_json, json_response
from brewd.control.routes import CALLS, METRICS, PORT
from brewd.control.wire import encode
from brewd.core.config import ControlConfig

RUNS_PER_JOB = 50  # the status page's chart: the newest runs of each job
PAGE = web.AppKey("page", bytes)
PAGE_CSP = web.AppKey("page_csp", str)

routes = web.RouteTableDef()


@routes.get("/")
async def status_page(request: web.Request) -> web.Response:
    headers = {
        "Content-Security-Policy": request.app[PAGE_CSP],
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    return web.Response(body=request.app[PAGE], content_type="text/html", headers=headers)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    calls, port = request.app[CALLS], request.app[PORT]
    brewd_health = await calls.shared("health", port.health)
    status = None
    if brewd_health.database.up:
        status = await calls.shared("status", port.status)
    code, body = legacy.health(brewd_health, status, datetime.now(UTC))
    return json_response(body, code)


@routes.get("/api/scheduler/status")
async def scheduler_status(request: web.Request) -> web.Response:
    status = await request.app[CALLS].shared("status", request.app[PORT].status)
    return json_response(legacy.scheduler_status(status))


@routes.get("/api/overview")
async def overview(request: web.Request) -> web.Response:
    """Everything the status page draws, in one answer (brewd's own shapes, not the original's)."""
    calls, port = request.app[CALLS], request.app[PORT]
    recent = await calls.shared("recent", lambda: port.recent(RUNS_PER_JOB))
    body = {
        "generated_at": datetime.now(UTC),
        "status": await calls.shared("status", port.status),
        "health": await calls.shared("health", port.health),
        "runs": recent.runs,
        "nodes": recent.nodes,
    }
    return encoded_response(encode(body), headers={"Cache-Control": "no-store"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})


@web.middleware
async def original_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown routes answer as the original did (`{"error": "Not found", "path"}`); a known
    route asked with another method (POST /health, ...) is 405 with Allow."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return json_response({"error": "Not found", "path": request.path}, 404)
    except web.HTTPMethodNotAllowed as exc:
        body = {"error": "Method not allowed", "path": request.path}
        return json_response(body, 405, {"Allow": exc.headers.get("Allow", "GET, HEAD")})


def build_web_app(
    port: ControlPort, metrics: Metrics, config: ControlConfig, *, fresh_for: float = FRESH_FOR
) -> web.Application:
    """The TCP listener's application; GET and HEAD only, no request body is ever read."""
    app = web.Application(
        middlewares=[errors_as_json, original_errors], client_max_size=config.max_body_bytes
    )
    app[PORT] = port
    app[METRICS] = metrics
    app[CALLS] = PortCalls(timeout=config.request_timeout, fresh_for=fresh_for)
    page = resources.files("brewd.control").joinpath("status_page.html").read_bytes()
    app[PAGE] = page
    app[PAGE_CSP] = page_policy(page)
    app.add_routes(routes)
    return app


def page_policy(page: bytes) -> str:
    """A Content-Security-Policy that lets the page run only its own inline script (by hash)
    and fetch only from this listener: nothing can load from outside, injected markup can't
    run a script even if escaping were ever missed."""
    scripts = re.findall(rb"<script>(.*?)</script>", page, flags=re.DOTALL)
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'" for s in scripts
    )
    return (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
