"""Strict field checks every payload goes through: JSON types without coercion, no unknown
keys, ids against their patterns, bounded free text. Each refusal is an EventError that
names the field."""

from __future__ import annotations

import json
from typing import Any

from mlcycle import storage
from mlcycle.errors import EventError

MAX_TEXT = 1000
MAX_BREACHES = 100
JSON_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    str: "a string",
    list: "a list",
    dict: "an object",
}


def fields(payload: dict, where: str, spec: dict[str, type]) -> dict[str, Any]:
    """The payload's fields after checking each against its JSON type; unknown keys are refused."""
    unknown = sorted(set(payload) - set(spec))
    if unknown:
        raise EventError(where, unknown[0], f"one of the fields {sorted(spec)}")
    for name, value in payload.items():
        wanted = spec[name]
        # bool is an int in Python; JSON's true is no count, and 1 is no boolean.
        wrong_bool = isinstance(value, bool) != (wanted is bool)
        if value is not None and (not isinstance(value, wanted) or wrong_bool):
            raise EventError(where, name, JSON_TYPE_NAMES[wanted], value)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise EventError(
                where, name, f"at most {MAX_TEXT} characters", f"{len(value)} characters"
            )
    return payload


def mapping(event: object, where: str) -> dict:
    if not isinstance(event, dict):
        raise EventError(where, None, "a JSON object", event)
    return event


def batch_id(value: str, where: str, field: str = "batch_id") -> str:
    if not storage.BATCH_ID.match(value):
        raise EventError(where, field, f"a batch id matching {storage.BATCH_ID.pattern}", value)
    return value


def version(value: str | None, where: str, field: str) -> str | None:
    if value is not None and not storage.MODEL_VERSION.match(value):
        raise EventError(
            where, field, f"a model version matching {storage.MODEL_VERSION.pattern}", value
        )
    return value


def breaches(value: list | None, where: str) -> tuple[dict, ...]:
    items = value or []
    if len(items) > MAX_BREACHES or not all(isinstance(b, dict) for b in items):
        raise EventError(where, "breaches", f"a list of at most {MAX_BREACHES} objects", value)
    if len(json.dumps(items, default=str)) > MAX_TEXT * 10:
        raise EventError(where, "breaches", f"at most {MAX_TEXT * 10} characters of JSON", "more")
    return tuple(items)


def section(parent: dict, name: str, path: str, where: str) -> dict:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise EventError(where, f"{path}.{name}", "an object", value)
    return value


def text(value: object) -> str | None:
    """Free text from an AWS message, bounded: it lands in the breaker state and event log."""
    return value[:MAX_TEXT] if isinstance(value, str) else None


def required(fields: dict, name: str, where: str) -> Any:
    if fields.get(name) is None:
        raise EventError(where, name, "a value (the field is required)")
    return fields[name]


def words(fields: dict, name: str, where: str) -> str:
    """A required text that says something: an empty or blank reason or actor would leave a
    decision in the event log without anyone or anything behind it."""
    value = required(fields, name, where)
    if not value.strip():
        raise EventError(where, name, "a non-blank text", value)
    return str(value)


def count(fields: dict, name: str, where: str, low: int, high: int) -> int:
    value = required(fields, name, where)
    if not low <= value <= high:
        raise EventError(where, name, f"a whole number from {low} to {high}", value)
    return int(value)
