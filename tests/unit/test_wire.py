"""The control API's JSON, made in one place (control/wire.py): the keys, their order and the
time format the socket answered before the port returned dataclasses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from brewd.control.openapi import document
from brewd.control.port import (
    Dependency,
    Health,
    JobStatus,
    NodeSeen,
    Recent,
    SchedulerHealth,
    SchedulerStatus,
)
from brewd.control.wire import encode, iso, to_wire
from brewd.runs.records import RunRecord

STARTED = datetime(2026, 3, 1, 12, 0, 5, 123456, tzinfo=UTC)


def record() -> RunRecord:
    return RunRecord(
        id=7,
        job="expirePokes",
        trigger="manual",
        slot=None,
        node="h:1",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=2),
        status="succeeded",
        affected_records=3,
        message="expired 3 pokes",
        error=None,
        attempts=1,
    )


def test_a_run_record_keeps_its_keys_in_order_and_times_in_utc_with_z() -> None:
    assert encode(record()) == (
        b'{"id": 7, "job": "expirePokes", "trigger": "manual", "slot": null, "node": "h:1", '
        b'"started_at": "2026-03-01T12:00:05.123456Z", '
        b'"finished_at": "2026-03-01T12:00:07.123456Z", "status": "succeeded", '
        b'"affected_records": 3, "message": "expired 3 pokes", "error": null, "attempts": 1, '
        b'"last_error": null}'
    )


def test_times_in_other_zones_are_given_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert iso(datetime(2026, 3, 1, 13, 0, tzinfo=paris)) == "2026-03-01T12:00:00Z"


def test_down_since_appears_only_while_down() -> None:
    assert to_wire(Dependency(up=True, latency_ms=0.5, error=None)) == {
        "up": True,
        "latency_ms": 0.5,
        "error": None,
    }
    down = to_wire(Dependency(up=False, latency_ms=None, error="refused", down_since=STARTED))
    assert down == {
        "up": False,
        "latency_ms": None,
        "error": "refused",
        "down_since": "2026-03-01T12:00:05.123456Z",
    }


def test_the_status_pages_nodes_say_self() -> None:
    recent = Recent(
        runs={"expirePokes": [record()]}, nodes=[NodeSeen("h:1", STARTED, 4, 1, 0, True)]
    )
    body = json.loads(encode(recent))
    assert body["nodes"] == [
        {
            "node": "h:1",
            "last_seen": "2026-03-01T12:00:05.123456Z",
            "runs": 4,
            "failures": 1,
            "running": 0,
            "self": True,
        }
    ]
    assert body["runs"]["expirePokes"][0]["id"] == 7


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document()["components"]["schemas"][name]
    return schema


def _keys_match(body: object, schema: dict[str, Any]) -> None:
    assert isinstance(body, dict)
    assert set(schema["required"]) <= set(body) <= set(schema["properties"])


def test_every_answer_has_the_keys_the_openapi_document_declares() -> None:
    up = Dependency(up=True, latency_ms=0.5, error=None)
    down = Dependency(up=False, latency_ms=None, error="refused", down_since=STARTED)
    job = JobStatus("expirePokes", "*/5 * * * *", True, False, False, STARTED, record())
    status = SchedulerStatus(True, True, "h:1", "UTC", [job], down)
    scheduler = SchedulerHealth(True, True, True, ["expirePokes"], 0.1)
    health = Health("degraded", up, down, scheduler, "0.1.0", 12.5)
    _keys_match(to_wire(record()), _schema("RunRecord"))
    _keys_match(to_wire(job), _schema("JobStatus"))
    _keys_match(to_wire(status), _schema("Status"))
    _keys_match(to_wire(up), _schema("Dependency"))
    _keys_match(to_wire(down), _schema("Dependency"))
    _keys_match(to_wire(health), _schema("Health"))
    _keys_match(to_wire(scheduler), _schema("Health")["properties"]["scheduler"])
