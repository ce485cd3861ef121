"""A trigger from brewctl, server side: `brewctl trigger JOB` (cli/brewctl.py `_trigger`) sends
POST /api/scheduler/trigger/{job}[?wait=false] on the socket; this route checks who asks,
starts the run through the port (control/service.py -> runs/runner.py `trigger`, which claims
it at once: 404 unknown job, 409 already running), and either answers 202 with the run id or
waits for the run's record and answers it with the HTTP status of its outcome (OUTCOME_HTTP).
brewctl turns that status into its exit status (cli/brewctl.py HTTP_EXIT: 200 -> 0,
500 -> 1 the job failed, 409 -> 4 ...)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from brewd.control.responses import json_response
from brewd.control.routes import CALLS, PORT, authorized, query_flag

# A manual run's outcome as an HTTP status: the spec's 500 for a failed run is the one 5xx the
# API gives on purpose; a run the scheduler skipped (it overlapped another) is a conflict.
OUTCOME_HTTP = {"succeeded": 200, "failed": 500, "skipped": 409}

routes = web.RouteTableDef()  # added to the socket's application by control/server.py


@routes.post("/api/scheduler/trigger/{job}")
async def trigger(request: web.Request) -> web.Response:
    wait = query_flag(request, "wait", default=True)
    who = await authorized(request)
    calls, port = request.app[CALLS], request.app[PORT]
    run = await calls.call(port.trigger, request.match_info["job"], requested_by=who)
    calls.changed()
    if not wait:
        return json_response({"run_id": run.run_id}, 202)
    # shield: a client that hangs up must not cancel the run's future under the scheduler
    record = await asyncio.shield(asyncio.wrap_future(run.future))
    calls.changed()
    return json_response(record, OUTCOME_HTTP.get(record.status, 200))
