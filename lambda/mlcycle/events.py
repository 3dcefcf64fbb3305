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

from mlcycle import fields as check
from mlcycle.clock import now
from mlcycle.errors import EventError
from mlcycle.monitoring.rules import BY_NAME as RULES_BY_NAME

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
    rule: str | None = None  # a verdict alarm's Rule dimension: RuleVerdict alone says nothing

    def cause(self) -> dict:
        cause = {
            "reason": "alarm",
            "alarm": self.name,
            "state_reason": self.reason,
            "metric": self.metric,
            "threshold": self.threshold,
            "comparison": self.comparison,
        }
        return {**cause, "rule": self.rule} if self.rule else cause


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


def _s3(event: dict, where: str) -> S3Notification:
    objects = []
    for i, record in enumerate(event["Records"]):
        s3 = check.section(record, "s3", f"Records[{i}]", where)
        obj = check.section(s3, "object", f"Records[{i}].s3", where)
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
    raw = check.section(record, "Sns", f"Records[{i}]", where).get("Message")
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
        message["AlarmName"][: check.MAX_TEXT],
        str(message.get("NewStateValue"))[:40],
        check.text(message.get("NewStateReason")),
        check.text(trigger.get("MetricName")),
        float(threshold) if isinstance(threshold, (int, float)) else None,
        check.text(trigger.get("ComparisonOperator")),
        _dimension(trigger, "Rule"),
    )


def _dimension(trigger: dict, name: str) -> str | None:
    """A dimension's value from an alarm message's Trigger (CloudWatch writes name/value in
    lower case there)."""
    dimensions = trigger.get("Dimensions")
    for dimension in dimensions if isinstance(dimensions, list) else []:
        if isinstance(dimension, dict) and dimension.get("name") == name:
            return check.text(dimension.get("value"))
    return None


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
    payload = check.mapping(event, where)
    if "action" in payload:
        fields = check.fields(payload, where, {"action": str, "actor": str})
        if fields["action"] != "sign_unsigned":
            raise EventError(
                where, "action", "sign_unsigned (or no action: a training run)", fields["action"]
            )
        return SignUnsigned(fields.get("actor") or "operator")
    if _is_schedule(payload):
        return TrainRequest(actor="schedule", scheduled=True)
    fields = check.fields(payload, where, TRAIN_FIELDS)
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
    payload = check.mapping(event, where)
    if _is_s3(payload):
        return _s3(payload, where)
    if _is_schedule(payload):
        return _schedule(payload)
    action = payload.get("action")
    if action is None and "batch_id" in payload:
        return ScoreBatch(
            check.batch_id(check.fields(payload, where, {"batch_id": str})["batch_id"], where)
        )
    if action == "rescan":
        check.fields(payload, where, {"action": str})
        return Rescan()
    if action == "score_held":
        fields = check.fields(payload, where, {"action": str, "probation": bool})
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
    payload = check.mapping(event, where)
    if _is_s3(payload):
        return _s3(payload, where)
    if _is_schedule(payload):
        return _schedule(payload)
    if "batch_id" in payload:
        return MonitorBatch(
            check.batch_id(check.fields(payload, where, {"batch_id": str})["batch_id"], where)
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


@dataclass(frozen=True)
class GateTrip:
    """Infer's gate found a batch's label-free statistics at trip level before publication."""

    batch_id: str
    model_version: str
    rules: tuple[str, ...]
    reason: str

    def cause(self) -> dict:
        return {
            "source": "gate",
            "batch_id": self.batch_id,
            "model_version": self.model_version,
            "rules": list(self.rules),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class AcceptShift:
    """An operator accepts a lasting, benign shift as the new normal from ``since`` on
    (None: now)."""

    reason: str
    actor: str
    since: str | None


BreakerEvent = (
    AlarmNotifications
    | Force
    | Status
    | Repair
    | ModelPromoted
    | ProbationReport
    | GateTrip
    | AcceptShift
)
BREAKER_ACTIONS = (
    "open",
    "close",
    "status",
    "repair",
    "model_promoted",
    "probation_report",
    "gate_trip",
    "accept_shift",
)


def _tripping_rules(value: list, where: str) -> tuple[str, ...]:
    names = [name for name, rule in RULES_BY_NAME.items() if rule.trips]
    if not value or not all(isinstance(r, str) and r in names for r in value):
        raise EventError(
            where, "rules", f"a non-empty list of rules that may trip ({', '.join(names)})", value
        )
    return tuple(value)


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


def parse_breaker_event(event: object) -> BreakerEvent:
    where = "breaker event"
    payload = check.mapping(event, where)
    if _is_sns(payload):
        return AlarmNotifications(
            tuple(_alarm(r, i, where) for i, r in enumerate(payload["Records"]))
        )
    action = payload.get("action")
    if action in ("open", "close"):
        fields = check.fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Force(action, fields.get("reason") or "", fields.get("actor") or "operator")
    if action == "status":
        check.fields(payload, where, {"action": str})
        return Status()
    if action == "repair":
        fields = check.fields(payload, where, {"action": str, "reason": str, "actor": str})
        return Repair(check.required(fields, "reason", where), fields.get("actor") or "operator")
    if action == "model_promoted":
        fields = check.fields(payload, where, {"action": str, "version": str, "actor": str})
        version = check.version(check.required(fields, "version", where), where, "version")
        assert version is not None  # required above
        return ModelPromoted(version, fields.get("actor") or "training")
    if action == "probation_report":
        fields = check.fields(
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
        batch_id = check.batch_id(check.required(fields, "batch_id", where), where)
        return ProbationReport(
            batch_id,
            check.required(fields, "healthy", where),
            check.breaches(fields.get("breaches"), where),
            check.version(fields.get("model_version"), where, "model_version"),
            fields.get("actor") or "monitor",
        )
    if action == "gate_trip":
        fields = check.fields(
            payload,
            where,
            {"action": str, "batch_id": str, "model_version": str, "rules": list, "reason": str},
        )
        version = check.version(
            check.required(fields, "model_version", where), where, "model_version"
        )
        assert version is not None  # required above
        return GateTrip(
            check.batch_id(check.required(fields, "batch_id", where), where),
            version,
            _tripping_rules(check.required(fields, "rules", where), where),
            check.required(fields, "reason", where),
        )
    if action == "accept_shift":
        fields = check.fields(
            payload, where, {"action": str, "reason": str, "actor": str, "since": str}
        )
        return AcceptShift(
            check.required(fields, "reason", where),
            check.required(fields, "actor", where),
            _utc_time(fields.get("since"), where, "since"),
        )
    raise EventError(
        where,
        "action" if action is not None else None,
        f"an SNS alarm notification or action {'|'.join(BREAKER_ACTIONS)}",
        action if action is not None else sorted(payload),
    )
