"""The control API's JSON, made in one place (control/wire.py): the keys, their order and the
time format the socket answered before the port returned dataclasses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from brewd.control.port import Dependency, NodeSeen, Recent
from brewd.control.wire import encode, iso, to_wire
from brewd.runs.ledger import RunRecord

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
