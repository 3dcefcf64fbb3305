"""Every event the breaker function accepts, parsed strictly: CloudWatch alarms delivered by
SNS, the reports of the other functions (a promotion, a probation verdict, the gate's trip)
and the operators' actions (``operator_payloads``). A wrong type, an unknown key or an unknown
action is refused with an `EventError` naming the field, before anything changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlcycle import fields as check
from mlcycle.breaker.operator_payloads import OperatorEvent, parse_operator_event
from mlcycle.errors import EventError
from mlcycle.monitoring.rules import BY_NAME as RULES_BY_NAME


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
        if self.rule in RULES_BY_NAME:
            # The rule's family decides the action: integrity (inputs) or performance (model).
            return {**cause, "rule": self.rule, "family": RULES_BY_NAME[self.rule].family}
        return {**cause, "rule": self.rule} if self.rule else cause


@dataclass(frozen=True)
class AlarmNotifications:
    alarms: tuple[Alarm, ...]


def is_sns(event: dict) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records)
    )


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


@dataclass(frozen=True)
class Status:
    """Current state and the last events."""


@dataclass(frozen=True)
class ModelPromoted:
    version: str
    actor: str
    kept: bool = False  # a recovery kept the champion: it goes on probation all the same


@dataclass(frozen=True)
class ProbationReport:
    batch_id: str
    healthy: bool
    breaches: tuple[dict, ...]
    model_version: str | None
    actor: str
    labelled: bool = False  # the verdict judged the batch's labels (partial ones count)


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


BreakerEvent = (
    AlarmNotifications | Status | ModelPromoted | ProbationReport | GateTrip | OperatorEvent
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
    "rollback",
    "release",
    "extend_hold",
)


def _tripping_rules(value: list, where: str) -> tuple[str, ...]:
    names = [name for name, rule in RULES_BY_NAME.items() if rule.trips]
    if not value or not all(isinstance(r, str) and r in names for r in value):
        raise EventError(
            where, "rules", f"a non-empty list of rules that may trip ({', '.join(names)})", value
        )
    return tuple(value)


def parse_breaker_event(event: object) -> BreakerEvent:
    where = "breaker event"
    payload = check.mapping(event, where)
    if is_sns(payload):
        return AlarmNotifications(
            tuple(_alarm(r, i, where) for i, r in enumerate(payload["Records"]))
        )
    operator = parse_operator_event(payload, where)
    if operator is not None:
        return operator
    action = payload.get("action")
    if action == "status":
        check.fields(payload, where, {"action": str})
        return Status()
    if action == "model_promoted":
        fields = check.fields(
            payload, where, {"action": str, "version": str, "actor": str, "kept": bool}
        )
        version = check.version(check.required(fields, "version", where), where, "version")
        assert version is not None  # required above
        return ModelPromoted(version, fields.get("actor") or "training", bool(fields.get("kept")))
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
                "labelled": bool,
            },
        )
        batch_id = check.batch_id(check.required(fields, "batch_id", where), where)
        return ProbationReport(
            batch_id,
            check.required(fields, "healthy", where),
            check.breaches(fields.get("breaches"), where),
            check.version(fields.get("model_version"), where, "model_version"),
            fields.get("actor") or "monitor",
            bool(fields.get("labelled", False)),
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
    raise EventError(
        where,
        "action" if action is not None else None,
        f"an SNS alarm notification or action {'|'.join(BREAKER_ACTIONS)}",
        action if action is not None else sorted(payload),
    )
