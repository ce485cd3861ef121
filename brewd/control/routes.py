"""The control API's routes (SPEC §6): each handler parses, calls the port, answers JSON."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from brewd.adapters.metrics import CONTENT_TYPE, Metrics
from brewd.control.calls import PortCalls
from brewd.control.openapi import document
from brewd.control.peer import Peer, groups_of, is_allowed, peer_of
from brewd.control.port import ControlPort
from brewd.control.refusals import RefusalLog
from brewd.control.responses import encoded_response, json_response
from brewd.control.wire import encode


@dataclass(frozen=True, kw_only=True)
class Access:
    """Who may trigger, pause and resume, besides root."""

    daemon_uid: int
    admin_gid: int | None
    body_timeout: float


PORT = web.AppKey("port", ControlPort)
METRICS = web.AppKey("metrics", Metrics)
CALLS = web.AppKey("calls", PortCalls)
ACCESS = web.AppKey("access", Access)
REFUSALS = web.AppKey("refusals", RefusalLog)

MAX_RUNS = 1000
routes = web.RouteTableDef()


def _health(port: ControlPort) -> tuple[int, bytes]:
    body = port.health()
    return 503 if body.status == "unhealthy" else 200, encode(body)


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    port = request.app[PORT]
    code, data = await request.app[CALLS].shared("health", lambda: _health(port))
    return encoded_response(data, code)


@routes.get("/api/scheduler/status")
async def status(request: web.Request) -> web.Response:
    port = request.app[PORT]
    return encoded_response(
        await request.app[CALLS].shared("status", lambda: encode(port.status()))
    )


@routes.get("/api/scheduler/jobs/{job}/runs")
async def runs(request: web.Request) -> web.Response:
    limit = query_int(request, "limit", default=20, low=1, high=MAX_RUNS)
    port = request.app[PORT]
    return json_response(await request.app[CALLS].call(port.runs, request.match_info["job"], limit))


@routes.post("/api/scheduler/jobs/{job}/{action:pause|resume}")
async def pause_or_resume(request: web.Request) -> web.Response:
    who = await authorized(request)
    port, calls = request.app[PORT], request.app[CALLS]
    change = port.pause if request.match_info["action"] == "pause" else port.resume
    entry = await calls.call(change, request.match_info["job"], by=who)
    calls.changed()
    return json_response(entry)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    # Rendering only reads in-memory counters: cheap enough for the loop itself.
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return json_response(document())


def _single(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise web.HTTPBadRequest(text=f"query parameter {name!r} given more than once")
    return values[0] if values else None


def query_flag(request: web.Request, name: str, *, default: bool) -> bool:
    raw = _single(request, name)
    if raw is None:
        return default
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if raw.lower() not in value:
        raise web.HTTPBadRequest(text=f"query parameter {name!r} must be true or false")
    return value[raw.lower()]


def query_int(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = _single(request, name)
    if raw is None:
        return default
    # Bounded before conversion: int() of thousands of digits raises (Python's digit limit).
    digits = raw.isascii() and raw.isdigit() and len(raw) <= len(str(high))
    if not (digits and low <= int(raw) <= high):
        raise web.HTTPBadRequest(text=f"query parameter {name!r} must be an integer {low}..{high}")
    return int(raw)


async def authorized(request: web.Request) -> str:
    """Who the peer is, if it may change things; 403 otherwise. Drains any (ignored) body."""
    access = request.app[ACCESS]
    peer = peer_of(request.transport.get_extra_info("socket") if request.transport else None)
    who = await request.app[CALLS].call(_admitted, peer, access)
    if who is None:
        reason = _refusal_reason(peer, access)
        refusals = request.app[REFUSALS]  # on a thread: naming the uid may query NSS
        await request.app[CALLS].call(refusals.refused, peer, request.method, request.path, reason)
        raise web.HTTPForbidden(
            text="permission denied: trigger, pause and resume need root, the daemon's user, "
            "or membership of the admin group"
        )
    await _drain_body(request, access.body_timeout)
    return who


def _admitted(peer: Peer | None, access: Access) -> str | None:
    """The peer's description if it is allowed (on a thread: /proc and user-database lookups)."""
    if peer is None:
        return None
    privileged = peer.uid in (0, access.daemon_uid) or access.admin_gid is None
    groups = set() if privileged else groups_of(peer)
    allowed = is_allowed(
        peer, daemon_uid=access.daemon_uid, admin_gid=access.admin_gid, groups=groups
    )
    return peer.describe() if allowed else None


def _refusal_reason(peer: Peer | None, access: Access) -> str:
    if peer is None:
        return "no peer credentials (not a Unix socket)"
    return "not root, the daemon's user, or a member of the admin group"


async def _drain_body(request: web.Request, timeout: float) -> None:
    """These routes take no body; read any that came, within the size and time limits."""
    if not request.body_exists:
        return
    try:
        async with asyncio.timeout(timeout):
            await request.read()  # over client_max_size: 413
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request body did not arrive in time") from None
