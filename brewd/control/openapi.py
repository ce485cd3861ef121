"""The OpenAPI 3.1 document of the control API, served at GET /openapi.json."""

from __future__ import annotations

import functools
from typing import Any

from brewd import __version__


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_TIME = _nullable("string", format="date-time")

SCHEMAS: dict[str, Any] = {
    "Error": _obj(["error"], error={"type": "string"}),
    "UnknownJob": _obj(
        ["error", "available_jobs"],
        error={"type": "string"},
        available_jobs={"type": "array", "items": {"type": "string"}},
    ),
    "RunRecord": _obj(
        ["id", "job", "trigger", "slot", "node", "started_at", "finished_at", "status"],
        id={"type": "integer"},
        job={"type": "string"},
        trigger={"type": "string", "enum": ["schedule", "catchup", "manual"]},
        slot=_TIME,
        node={"type": "string"},
        started_at=_TIME,
        finished_at=_TIME,
        status={
            "type": "string",
            "enum": ["running", "succeeded", "failed", "skipped", "missed"],
        },
        affected_records=_nullable("integer"),
        message=_nullable("string"),
        error=_nullable("string"),
        attempts=_nullable(
            "integer", description="attempts the run made; null when it never ran", minimum=1
        ),
        last_error=_nullable(
            "string", description="the last transient error an attempt ended with (retried)"
        ),
    ),
    "JobStatus": _obj(
        ["name", "schedule", "paused", "running", "next_run", "last_run"],
        name={"type": "string"},
        schedule={"type": "string", "description": "cron expression"},
        enabled={"type": "boolean", "description": "false: [jobs.<name>] enabled = false"},
        paused={"type": "boolean"},
        running={"type": "boolean"},
        next_run=_TIME,
        last_run={"oneOf": [_ref("RunRecord"), {"type": "null"}]},
    ),
    "Status": _obj(
        ["running", "node", "timezone", "jobs"],
        running={"type": "boolean"},
        enabled={"type": "boolean", "description": "scheduler.enabled"},
        node={"type": "string", "description": "host:pid"},
        timezone={"type": "string"},
        jobs={"type": "array", "items": _ref("JobStatus")},
        database=_ref("Dependency"),
    ),
    "Dependency": _obj(
        ["up", "latency_ms", "error"],
        up={"type": "boolean"},
        latency_ms=_nullable("number"),
        error=_nullable("string"),
        down_since={**_TIME, "description": "while down: since when (the cause is in error)"},
    ),
    "Health": _obj(
        ["status", "database", "redis", "scheduler", "version", "uptime_s"],
        status={"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
        database=_ref("Dependency"),
        redis=_ref("Dependency"),
        scheduler=_obj(
            ["running", "enabled", "overdue_jobs", "loop_age_s"],
            running={"type": "boolean"},
            enabled={"type": "boolean"},
            synced={"type": "boolean", "description": "the start-up catch-up is done"},
            overdue_jobs={"type": "array", "items": {"type": "string"}},
            loop_age_s=_nullable("number"),
        ),
        version={"type": "string"},
        uptime_s={"type": "number"},
    ),
    "Accepted": _obj(["run_id"], run_id={"type": "integer"}),
}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_ERRORS = {
    "400": _json("malformed query parameter", "Error"),
    "403": _json("the peer is not root, the daemon's user or in the admin group", "Error"),
    "404": _json("no job has this name", "UnknownJob"),
    "503": _json("the database is unreachable or did not answer in time", "Error"),
    "default": _json("any other client error (413 body too large, 408 slow body, ...)", "Error"),
}
_JOB = {
    "name": "job",
    "in": "path",
    "required": True,
    "description": "the job's API name, e.g. expirePokes",
    "schema": {"type": "string"},
    "examples": {"expirePokes": {"value": "expirePokes"}, "badges": {"value": "calculateBadges"}},
}
_WAIT = {
    "name": "wait",
    "in": "query",
    "description": "wait for the run to end (default) or answer 202 at once",
    "schema": {"type": "boolean", "default": True},
}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
}


def _op(summary: str, ok: dict[str, Any], errors: list[str], **extra: Any) -> dict[str, Any]:
    responses = {**ok, **{code: _ERRORS[code] for code in [*errors, "default"]}}
    return {"summary": summary, "responses": responses, **extra}


def _trigger() -> dict[str, Any]:
    return _op(
        "run a job now (root, the daemon's user or the admin group)",
        {
            "200": _json("the run succeeded", "RunRecord"),
            "202": _json("started (wait=false)", "Accepted"),
            "409": _json("the job is already running", "Error"),
            "500": _json("the run failed: its record", "RunRecord"),
        },
        ["400", "403", "404", "503"],
        parameters=[_JOB, _WAIT],
    )


def _runs() -> dict[str, Any]:
    records = {"type": "array", "items": _ref("RunRecord")}
    return _op(
        "recent runs, newest first",
        {
            "200": {
                "description": "run records",
                "content": {"application/json": {"schema": records}},
            }
        },
        ["400", "404", "503"],
        parameters=[_JOB, _LIMIT],
    )


def _change(verb: str) -> dict[str, Any]:
    return _op(
        f"{verb} the job's scheduled runs, cluster-wide, surviving restarts",
        {"200": _json("the job's new state", "JobStatus")},
        ["403", "404", "503"],
        parameters=[_JOB],
    )


def _paths() -> dict[str, Any]:
    health = {
        "200": _json("healthy or degraded (Redis down)", "Health"),
        "503": _json("unhealthy: the database is unreachable", "Health"),
    }
    metrics = {"200": {"description": "text format 0.0.4", "content": {"text/plain": {}}}}
    return {
        "/health": {"get": _op("database, Redis and scheduler health", health, [])},
        "/api/scheduler/status": {
            "get": _op("every job's schedule and state", {"200": _json("", "Status")}, ["503"])
        },
        "/api/scheduler/trigger/{job}": {"post": _trigger()},
        "/api/scheduler/jobs/{job}/runs": {"get": _runs()},
        "/api/scheduler/jobs/{job}/pause": {"post": _change("pause")},
        "/api/scheduler/jobs/{job}/resume": {"post": _change("resume")},
        "/metrics": {"get": _op("Prometheus metrics", metrics, [])},
        "/openapi.json": {
            "get": _op("this document", {"200": {"description": "OpenAPI 3.1", "content": {}}}, [])
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once; callers must not modify it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "brewd control API",
            "version": __version__,
            "description": "HTTP/1.1 + JSON on the daemon's Unix socket (/run/brewd/brewd.sock). "
            "Reads are open to whoever can connect; trigger, pause and resume check the peer's "
            "credentials (SO_PEERCRED). Client errors are JSON {error} with a 4xx status.",
        },
        "servers": [{"url": "http://localhost"}],
        "paths": _paths(),
        "components": {"schemas": SCHEMAS},
    }
