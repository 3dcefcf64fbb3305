"""What operators send the breaker function, parsed strictly (a refusal names the field).

Each of these actions is a person's decision and lands in the event log with its reason and
actor; the newer ones (rollback, release, extend_hold) require both, since the log is the
account of who decided what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlcycle import fields as check
from mlcycle.clock import now
from mlcycle.errors import EventError

# A week at a time: a batch held longer than that is pushed again, by someone, with a reason.
MAX_EXTENSION_HOURS = 168


@dataclass(frozen=True)
class Force:
    """An operator opens or closes the breaker by hand."""

    target: str
    reason: str
    actor: str


@dataclass(frozen=True)
class Repair:
    """An operator replaces an unreadable or unknown state (it becomes OPEN)."""

    reason: str
    actor: str


@dataclass(frozen=True)
class AcceptShift:
    """An operator accepts a lasting, benign shift as the new normal from ``since`` on
    (None: now)."""

    reason: str
    actor: str
    since: str | None


@dataclass(frozen=True)
class Rollback:
    """The model store's `previous` champion becomes the champion again."""

    reason: str
    actor: str


@dataclass(frozen=True)
class Release:
    """A held batch is scored with the champion and published through the gate; ``force``
    publishes it even when the gate trips (flagged in the manifest)."""

    batch_id: str
    reason: str
    actor: str
    force: bool


@dataclass(frozen=True)
class ExtendHold:
    """A held batch's hold limit moves ``hours`` later."""

    batch_id: str
    hours: int
    reason: str
    actor: str


OperatorEvent = Force | Repair | AcceptShift | Rollback | Release | ExtendHold


def _utc_time(value: str | None, where: str, field: str) -> str | None:
    """An ISO 8601 time with its zone, as UTC in the platform's form: the window compares
    stored times as strings."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise EventError(
            where, field, "an ISO 8601 time with a zone, e.g. 2026-01-05T00:00:00Z", value
        )
    if parsed > now():
        raise EventError(where, field, "a time that is not in the future", value)
    return parsed.astimezone(dt.UTC).isoformat()


def parse_operator_event(payload: dict, where: str) -> OperatorEvent | None:
    """The operator action ``payload`` names, or None when its action is not an operator's."""
    action = payload.get("action")
    if action in ("open", "close"):
        fields = check.fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Force(action, fields.get("reason") or "", fields.get("actor") or "operator")
    if action == "repair":
        fields = check.fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Repair(check.required(fields, "reason", where), fields.get("actor") or "operator")
    if action == "accept_shift":
        fields = check.fields(
            payload, where, {"action": str, "reason": str, "actor": str, "since": str}
        )
        return AcceptShift(
            check.required(fields, "reason", where),
            check.required(fields, "actor", where),
            _utc_time(fields.get("since"), where, "since"),
        )
    if action == "rollback":
        fields = check.fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Rollback(check.words(fields, "reason", where), check.words(fields, "actor", where))
    if action == "release":
        fields = check.fields(
            payload,
            where,
            {"action": str, "batch_id": str, "reason": str, "actor": str, "force": bool},
        )
        return Release(
            check.batch_id(check.required(fields, "batch_id", where), where),
            check.words(fields, "reason", where),
            check.words(fields, "actor", where),
            fields.get("force") is True,
        )
    if action == "extend_hold":
        fields = check.fields(
            payload,
            where,
            {"action": str, "batch_id": str, "hours": int, "reason": str, "actor": str},
        )
        return ExtendHold(
            check.batch_id(check.required(fields, "batch_id", where), where),
            check.count(fields, "hours", where, 1, MAX_EXTENSION_HOURS),
            check.words(fields, "reason", where),
            check.words(fields, "actor", where),
        )
    return None
