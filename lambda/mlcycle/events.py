"""Every event a function accepts, parsed strictly into small typed objects.

AWS delivers three shapes (an S3 notification, an EventBridge schedule, an SNS message
carrying a CloudWatch alarm) and people or other functions send each handler a manual
payload. Manual payloads are checked field by field: a field of the wrong JSON type, an
unknown key or an unknown action is refused with an `EventError` that names the field.
Nothing is coerced: `"false"` is not a boolean, `"3"` is not a count. The breaker's events
(alarms, reports, operators' actions) are in ``breaker.payloads``.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

from mlcycle import fields as check
from mlcycle.breaker.payloads import parse_breaker_event as parse_breaker_event
from mlcycle.errors import EventError

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


def _is_s3(event: dict) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
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
    window: str | None = None  # "full": every labelled batch, not the configured window


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
    "window": str,
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
    if fields.get("window") not in (None, "full"):
        raise EventError(
            where, "window", '"full" (or no window: the configured one)', fields["window"]
        )
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


@dataclass(frozen=True)
class ReleaseHeld:
    """The breaker asks for an operator's release of a held batch (the order itself is in the
    batch's hold note, where only the breaker writes it)."""

    batch_id: str

    def payload(self) -> dict:
        return {"action": "release", "batch_id": self.batch_id}


@dataclass(frozen=True)
class SweepHolds:
    """Apply the hold limit's fallback to held batches past their limit (the rescan does too;
    this action runs it alone, for a schedule the breaker never disables)."""

    def payload(self) -> dict:
        return {"action": "sweep_holds"}


InferEvent = S3Notification | Scheduled | ScoreBatch | Rescan | ScoreHeld | ReleaseHeld | SweepHolds


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
    if action == "release":
        fields = check.fields(payload, where, {"action": str, "batch_id": str})
        return ReleaseHeld(check.batch_id(check.required(fields, "batch_id", where), where))
    if action == "sweep_holds":
        check.fields(payload, where, {"action": str})
        return SweepHolds()
    raise EventError(
        where,
        "action" if action is not None else None,
        'an S3 notification, a schedule, {"batch_id": ...} or action '
        "rescan|score_held|release|sweep_holds",
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
