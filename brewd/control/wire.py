"""The control API's JSON, made here and only here: the port's answers (dataclasses) become
JSON-able values, their fields in declaration order; times are ISO 8601 UTC with a "Z"."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def iso(value: datetime) -> str:
    """A time on the wire: UTC, with "Z" (2026-01-02T03:04:05.123456Z)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_wire(value: object) -> JsonValue:
    """A port answer (a dataclass, or lists and dicts of them) as JSON-able data. A field's
    metadata may rename it ("wire_name") or leave it out while None ("omit_if_none")."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        body: dict[str, JsonValue] = {}
        for spec in dataclasses.fields(value):
            item = getattr(value, spec.name)
            if item is None and spec.metadata.get("omit_if_none"):
                continue
            body[spec.metadata.get("wire_name", spec.name)] = to_wire(item)
        return body
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list | tuple):
        return [to_wire(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_wire(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)  # uuid, Decimal and the like: a string beats a 500


def encode(body: object) -> bytes:
    """The bytes of an answer: a port answer through to_wire, or JSON-able data as it is."""
    return json.dumps(to_wire(body), ensure_ascii=False).encode()
