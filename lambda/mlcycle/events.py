"""Every event a function accepts, parsed strictly into small typed objects.

AWS delivers three shapes (an S3 notification, an EventBridge schedule, an SNS message
carrying a CloudWatch alarm) and people or other functions send each handler a manual
payload. Manual payloads are checked field by field: a field of the wrong JSON type, an
unknown key or an unknown action is refused with an `EventError` that names the field.
Nothing is coerced: `"false"` is not a boolean, `"3"` is not a count.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from mlcycle import storage
from mlcycle.errors import MLCycleError

# Free text (reasons, actors) ends up in the state object and every event-log line.
MAX_TEXT = 1000
MAX_BREACHES = 100
JSON_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    str: "a string",
    list: "a list",
    dict: "an object",
}


class EventError(MLCycleError):
    """An event or payload the function refuses; nothing was changed."""

    def __init__(self, where: str, field: str | None, expected: str, got: object = None):
        self.where, self.field, self.expected = where, field, expected
        at = f"field '{field}'" if field else "payload"
        shown = "" if got is None else f", got {_describe(got)}"
        super().__init__(f"{where}: {at}: expected {expected}{shown}")


def _describe(value: object) -> str:
    text = json.dumps(value, default=str)
    return f"{type(value).__name__} {text[:80]}"


def _fields(payload: dict, where: str, spec: dict[str, type]) -> dict[str, Any]:
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


def _mapping(event: object, where: str) -> dict:
    if not isinstance(event, dict):
        raise EventError(where, None, "a JSON object", event)
    return event


def _batch_id(value: str, where: str, field: str = "batch_id") -> str:
    if not storage.BATCH_ID.match(value):
        raise EventError(where, field, f"a batch id matching {storage.BATCH_ID.pattern}", value)
    return value


def _version(value: str | None, where: str, field: str) -> str | None:
    if value is not None and not storage.MODEL_VERSION.match(value):
        raise EventError(
            where, field, f"a model version matching {storage.MODEL_VERSION.pattern}", value
        )
    return value


def _breaches(value: list | None, where: str) -> tuple[dict, ...]:
    items = value or []
    if len(items) > MAX_BREACHES or not all(isinstance(b, dict) for b in items):
        raise EventError(where, "breaches", f"a list of at most {MAX_BREACHES} objects", value)
    if len(json.dumps(items, default=str)) > MAX_TEXT * 10:
        raise EventError(where, "breaches", f"at most {MAX_TEXT * 10} characters of JSON", "more")
    return tuple(items)


# --- AWS-delivered events ----------------------------------------------------------------


@dataclass(frozen=True)
class S3Object:
    key: str  # URL-decoded
    version_id: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class S3Notification:
    """The objects of an S3 event notification, in delivery order."""

    objects: tuple[S3Object, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(o.key for o in self.objects)


@dataclass(frozen=True)
class Scheduled:
    """An EventBridge schedule fired."""

    rule: str | None


@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm state change delivered through SNS."""

    name: str
    state: str
    reason: str | None
    metric: str | None
    threshold: float | None
    comparison: str | None

    def cause(self) -> dict:
        return {
            "reason": "alarm",
            "alarm": self.name,
            "state_reason": self.reason,
            "metric": self.metric,
            "threshold": self.threshold,
            "comparison": self.comparison,
        }


@dataclass(frozen=True)
class AlarmNotifications:
    alarms: tuple[Alarm, ...]


def _is_s3(event: dict) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def _is_sns(event: dict) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records)
    )


def _is_schedule(event: dict) -> bool:
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def _section(parent: dict, name: str, path: str, where: str) -> dict:
    value = parent.get(name)
    if not isinstance(value, dict):
        raise EventError(where, f"{path}.{name}", "an object", value)
    return value


def _text(value: object) -> str | None:
    """Free text from an AWS message, bounded: it lands in the breaker state and event log."""
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _s3(event: dict, where: str) -> S3Notification:
    objects = []
    for i, record in enumerate(event["Records"]):
        s3 = _section(record, "s3", f"Records[{i}]", where)
        obj = _section(s3, "object", f"Records[{i}].s3", where)
        key = obj.get("key")
        if not isinstance(key, str):
            raise EventError(where, f"Records[{i}].s3.object.key", "a string", key)
        version, etag = obj.get("versionId"), obj.get("eTag")
        objects.append(
            S3Object(
                urllib.parse.unquote_plus(key),
                version if isinstance(version, str) else None,
                etag if isinstance(etag, str) else None,
            )
        )
    return S3Notification(tuple(objects))


def _schedule(event: dict) -> Scheduled:
    resources = event.get("resources") or []
    rule = resources[0].rsplit("/", 1)[-1] if resources and isinstance(resources[0], str) else None
    return Scheduled(rule)


def _alarm(record: dict, i: int, where: str) -> Alarm:
    raw = _section(record, "Sns", f"Records[{i}]", where).get("Message")
    try:
        message = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("AlarmName"), str):
        raise EventError(
            where, f"Records[{i}].Sns.Message", "a CloudWatch alarm message (JSON)", raw
        )
    trigger = message.get("Trigger")
    if not isinstance(trigger, dict):
        trigger = {}
    threshold = trigger.get("Threshold")
    return Alarm(
        message["AlarmName"][:MAX_TEXT],
        str(message.get("NewStateValue"))[:40],
        _text(message.get("NewStateReason")),
        _text(trigger.get("MetricName")),
        float(threshold) if isinstance(threshold, (int, float)) else None,
        _text(trigger.get("ComparisonOperator")),
    )


# --- train ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRequest:
    since: str | None = None
    recent_batches: int | None = None
    force: bool = False
    reason: str = ""
    actor: str = "invoke"
    recovery: bool = False
    scheduled: bool = False


@dataclass(frozen=True)
class SignUnsigned:
    """The one-off migration: sign versions registered before signing existed (only the
    train function's role may use the signing key)."""

    actor: str


TrainEvent = TrainRequest | SignUnsigned
TRAIN_FIELDS = {
    "since": str,
    "recent_batches": int,
    "force": bool,
    "reason": str,
    "actor": str,
    "recovery": bool,
}


def parse_train_event(event: object) -> TrainEvent:
    where = "train event"
    payload = _mapping(event, where)
    if "action" in payload:
        fields = _fields(payload, where, {"action": str, "actor": str})
        if fields["action"] != "sign_unsigned":
            raise EventError(
                where, "action", "sign_unsigned (or no action: a training run)", fields["action"]
            )
        return SignUnsigned(fields.get("actor") or "operator")
    if _is_schedule(payload):
        return TrainRequest(actor="schedule", scheduled=True)
    fields = _fields(payload, where, TRAIN_FIELDS)
    if fields.get("recent_batches") is not None and fields["recent_batches"] < 1:
        raise EventError(where, "recent_batches", "a count of at least 1", fields["recent_batches"])
    if fields.get("since") is not None:
        try:
            dt.date.fromisoformat(fields["since"])
        except ValueError:
            raise EventError(where, "since", "a date YYYY-MM-DD", fields["since"]) from None
    return TrainRequest(**{k: v for k, v in fields.items() if v is not None})


# --- infer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreBatch:
    batch_id: str


@dataclass(frozen=True)
class Rescan:
    """Score every complete unscored batch; quarantine those stuck past their deadline."""


@dataclass(frozen=True)
class ScoreHeld:
    probation: bool


InferEvent = S3Notification | Scheduled | ScoreBatch | Rescan | ScoreHeld


def parse_infer_event(event: object) -> InferEvent:
    where = "infer event"
    payload = _mapping(event, where)
    if _is_s3(payload):
        return _s3(payload, where)
    if _is_schedule(payload):
        return _schedule(payload)
    action = payload.get("action")
    if action is None and "batch_id" in payload:
        return ScoreBatch(_batch_id(_fields(payload, where, {"batch_id": str})["batch_id"], where))
    if action == "rescan":
        _fields(payload, where, {"action": str})
        return Rescan()
    if action == "score_held":
        fields = _fields(payload, where, {"action": str, "probation": bool})
        return ScoreHeld(fields.get("probation", True) is not False)
    raise EventError(
        where,
        "action" if action is not None else None,
        'an S3 notification, a schedule, {"batch_id": ...} or action rescan|score_held',
        action if action is not None else sorted(payload),
    )


# --- monitor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MonitorBatch:
    batch_id: str


MonitorEvent = S3Notification | Scheduled | MonitorBatch


def parse_monitor_event(event: object) -> MonitorEvent:
    where = "monitor event"
    payload = _mapping(event, where)
    if _is_s3(payload):
        return _s3(payload, where)
    if _is_schedule(payload):
        return _schedule(payload)
    if "batch_id" in payload:
        return MonitorBatch(
            _batch_id(_fields(payload, where, {"batch_id": str})["batch_id"], where)
        )
    raise EventError(
        where, None, 'an S3 notification, a schedule or {"batch_id": ...}', sorted(payload)
    )


# --- breaker ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Force:
    """An operator opens or closes the breaker by hand."""

    target: str
    reason: str
    actor: str


@dataclass(frozen=True)
class Status:
    """Current state and the last events."""


@dataclass(frozen=True)
class Repair:
    """An operator replaces an unreadable or unknown state (it becomes OPEN)."""

    reason: str
    actor: str


@dataclass(frozen=True)
class ModelPromoted:
    version: str
    actor: str


@dataclass(frozen=True)
class ProbationReport:
    batch_id: str
    healthy: bool
    breaches: tuple[dict, ...]
    model_version: str | None
    actor: str


BreakerEvent = AlarmNotifications | Force | Status | Repair | ModelPromoted | ProbationReport
BREAKER_ACTIONS = ("open", "close", "status", "repair", "model_promoted", "probation_report")


def _required(fields: dict, name: str, where: str) -> Any:
    if fields.get(name) is None:
        raise EventError(where, name, "a value (the field is required)")
    return fields[name]


def parse_breaker_event(event: object) -> BreakerEvent:
    where = "breaker event"
    payload = _mapping(event, where)
    if _is_sns(payload):
        return AlarmNotifications(
            tuple(_alarm(r, i, where) for i, r in enumerate(payload["Records"]))
        )
    action = payload.get("action")
    if action in ("open", "close"):
        fields = _fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Force(action, fields.get("reason") or "", fields.get("actor") or "operator")
    if action == "status":
        _fields(payload, where, {"action": str})
        return Status()
    if action == "repair":
        fields = _fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Repair(_required(fields, "reason", where), fields.get("actor") or "operator")
    if action == "model_promoted":
        fields = _fields(payload, where, {"action": str, "version": str, "actor": str})
        version = _version(_required(fields, "version", where), where, "version")
        assert version is not None  # required above
        return ModelPromoted(version, fields.get("actor") or "training")
    if action == "probation_report":
        fields = _fields(
            payload,
            where,
            {
                "action": str,
                "batch_id": str,
                "healthy": bool,
                "breaches": list,
                "model_version": str,
                "actor": str,
            },
        )
        batch_id = _batch_id(_required(fields, "batch_id", where), where)
        return ProbationReport(
            batch_id,
            _required(fields, "healthy", where),
            _breaches(fields.get("breaches"), where),
            _version(fields.get("model_version"), where, "model_version"),
            fields.get("actor") or "monitor",
        )
    raise EventError(
        where,
        "action" if action is not None else None,
        f"an SNS alarm notification or action {'|'.join(BREAKER_ACTIONS)}",
        action if action is not None else sorted(payload),
    )
