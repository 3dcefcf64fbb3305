"""Typed events: each handler's payload is parsed strictly, and a refusal names the field."""

import json

import pytest

from mlcycle import events
from mlcycle.breaker import operator_payloads, payloads
from mlcycle.errors import EventError


def s3_event(*keys: str) -> dict:
    return {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"key": k}}}
            for k in keys
        ]
    }


SCHEDULE = {
    "version": "0",
    "id": "1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123",
    "time": "2026-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123:rule/mlcycle-daily-training"],
    "detail": {},
}


def alarm_event(state: str = "ALARM") -> dict:
    message = {
        "AlarmName": "mlcycle-JoinCoverage",
        "NewStateValue": state,
        "NewStateReason": "below",
        "Trigger": {
            "MetricName": "JoinCoverage",
            "Threshold": 0.8,
            "ComparisonOperator": "LessThanThreshold",
        },
    }
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


def test_train_payload_fields_are_typed_and_schedules_are_recognised():
    assert events.parse_train_event({}) == events.TrainRequest()
    request = events.parse_train_event(
        {
            "since": "2026-01-01",
            "recent_batches": 2,
            "force": True,
            "reason": "r",
            "actor": "alice",
            "recovery": False,
        }
    )
    assert (request.since, request.recent_batches, request.force, request.actor) == (
        "2026-01-01",
        2,
        True,
        "alice",
    )
    scheduled = events.parse_train_event(SCHEDULE)
    assert scheduled.scheduled and scheduled.actor == "schedule"


@pytest.mark.parametrize(
    "payload, field, expected",
    [
        ({"force": "false"}, "force", "a boolean"),
        ({"recovery": 1}, "recovery", "a boolean"),
        ({"recent_batches": "3"}, "recent_batches", "an integer"),
        ({"recent_batches": True}, "recent_batches", "an integer"),
        ({"recent_batches": 0}, "recent_batches", "a count of at least 1"),
        ({"reason": 5}, "reason", "a string"),
        ({"forse": True}, "forse", "one of the fields"),
    ],
)
def test_train_refuses_wrong_types_and_unknown_keys_naming_the_field(payload, field, expected):
    with pytest.raises(EventError, match=f"field '{field}': expected {expected}"):
        events.parse_train_event(payload)


@pytest.mark.parametrize(
    "parse",
    [
        events.parse_train_event,
        events.parse_infer_event,
        events.parse_monitor_event,
        events.parse_breaker_event,
    ],
)
def test_a_payload_that_is_not_an_object_is_refused(parse):
    with pytest.raises(EventError, match="expected a JSON object"):
        parse(["not", "an", "object"])


def test_infer_events():
    parsed = events.parse_infer_event(
        s3_event("incoming/2026-01-02/hotels.csv", "incoming/a+b/x.csv")
    )
    assert parsed.keys == ("incoming/2026-01-02/hotels.csv", "incoming/a b/x.csv")
    assert events.parse_infer_event(SCHEDULE) == events.Scheduled("mlcycle-daily-training")
    assert events.parse_infer_event({"batch_id": "2026-01-02"}) == events.ScoreBatch("2026-01-02")
    assert events.parse_infer_event({"action": "rescan"}) == events.Rescan()
    assert events.parse_infer_event(
        {"action": "score_held", "probation": False}
    ) == events.ScoreHeld(False)
    assert events.parse_infer_event({"action": "score_held"}) == events.ScoreHeld(True)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"batch_id": "../../x"}, "field 'batch_id': expected a batch id"),
        ({"batch_id": 7}, "field 'batch_id': expected a string"),
        ({"batch_id": "b", "extra": 1}, "field 'extra'"),
        ({"action": "score_held", "probation": "yes"}, "field 'probation': expected a boolean"),
        ({"action": "delete_everything"}, "field 'action'"),
        ({"hello": "world"}, "payload: expected an S3 notification"),
    ],
)
def test_infer_refusals(payload, message):
    with pytest.raises(EventError, match=message):
        events.parse_infer_event(payload)


def test_monitor_events():
    assert events.parse_monitor_event(s3_event("labels/b1.csv")) == events.S3Notification(
        (events.S3Object("labels/b1.csv"),)
    )
    assert events.parse_monitor_event({"batch_id": "b1"}) == events.MonitorBatch("b1")
    with pytest.raises(EventError, match="field 'batch_id'"):
        events.parse_monitor_event({"batch_id": "a/b"})


def test_breaker_events():
    [alarm] = events.parse_breaker_event(alarm_event()).alarms
    assert (alarm.name, alarm.state, alarm.metric, alarm.threshold) == (
        "mlcycle-JoinCoverage",
        "ALARM",
        "JoinCoverage",
        0.8,
    )
    assert alarm.cause()["comparison"] == "LessThanThreshold"
    assert events.parse_breaker_event(
        {"action": "open", "reason": "feed", "actor": "alice"}
    ) == operator_payloads.Force("open", "feed", "alice")
    assert events.parse_breaker_event({"action": "status"}) == payloads.Status()
    assert events.parse_breaker_event(
        {"action": "model_promoted", "version": "v0002"}
    ) == payloads.ModelPromoted("v0002", "training")
    assert events.parse_breaker_event(
        {"action": "model_promoted", "version": "v0002", "kept": True}
    ) == payloads.ModelPromoted("v0002", "training", kept=True)
    report = events.parse_breaker_event(
        {
            "action": "probation_report",
            "batch_id": "b1",
            "healthy": False,
            "breaches": [{"metric": "MaxPSI"}],
            "model_version": "v0002",
        }
    )
    assert report == payloads.ProbationReport(
        "b1", False, ({"metric": "MaxPSI"},), "v0002", "monitor"
    )


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            {"action": "probation_report", "batch_id": "b1", "healthy": "false"},
            "field 'healthy': expected a boolean",
        ),
        ({"action": "probation_report", "batch_id": "b1"}, "field 'healthy': expected a value"),
        (
            {"action": "probation_report", "batch_id": "../../x", "healthy": True},
            "field 'batch_id'",
        ),
        ({"action": "model_promoted"}, "field 'version': expected a value"),
        ({"action": "open", "reason": ["x"]}, "field 'reason': expected a string"),
        ({"action": "reboot"}, "field 'action'"),
        ({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]}, "Sns.Message"),
    ],
)
def test_breaker_refusals(payload, message):
    with pytest.raises(EventError, match=message):
        events.parse_breaker_event(payload)


@pytest.mark.parametrize(
    "parse, payload, message",
    [
        (
            events.parse_train_event,
            {"reason": "x" * 1001},
            "field 'reason': expected at most 1000 characters",
        ),
        (events.parse_train_event, {"since": "yesterday"}, "field 'since': expected a date"),
        (
            events.parse_breaker_event,
            {"action": "model_promoted", "version": "../../evil"},
            "field 'version': expected a model version",
        ),
        (
            events.parse_breaker_event,
            {"action": "probation_report", "batch_id": "b", "healthy": True, "model_version": "v1"},
            "field 'model_version'",
        ),
        (
            events.parse_breaker_event,
            {"action": "probation_report", "batch_id": "b", "healthy": True, "breaches": ["x"]},
            "field 'breaches'",
        ),
        (events.parse_breaker_event, {"action": "open", "actor": "a" * 5000}, "field 'actor'"),
        (events.parse_breaker_event, {"action": "repair"}, "field 'reason': expected a value"),
    ],
)
def test_ids_have_patterns_and_free_text_is_bounded(parse, payload, message):
    with pytest.raises(EventError, match=message):
        parse(payload)


def test_repair_is_an_explicit_operator_action():
    assert events.parse_breaker_event(
        {"action": "repair", "reason": "state lost", "actor": "bob"}
    ) == operator_payloads.Repair("state lost", "bob")


GATE_TRIP = {
    "action": "gate_trip",
    "batch_id": "b1",
    "model_version": "v0002",
    "rules": ["JoinCoverage"],
    "reason": "JoinCoverage at trip level",
}


def test_a_gate_trip_names_the_batch_the_version_and_the_rules():
    assert events.parse_breaker_event(GATE_TRIP) == payloads.GateTrip(
        "b1", "v0002", ("JoinCoverage",), "JoinCoverage at trip level"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rules": []}, "field 'rules': expected a non-empty list of rules that may trip"),
        ({"rules": ["FeatureDrift"]}, "field 'rules'"),  # drift only warns
        ({"rules": ["JoinCoverage", 3]}, "field 'rules'"),
        ({"rules": "JoinCoverage"}, "field 'rules': expected a list"),
        ({"batch_id": "../x"}, "field 'batch_id'"),
        ({"model_version": "latest"}, "field 'model_version': expected a model version"),
        ({"model_version": None}, "field 'model_version': expected a value"),
        ({"reason": None}, "field 'reason': expected a value"),
        ({"extra": 1}, "field 'extra'"),
    ],
)
def test_gate_trip_refusals(change, message):
    with pytest.raises(EventError, match=message):
        events.parse_breaker_event({**GATE_TRIP, **change})


def test_accept_shift_takes_a_zoned_time_as_utc_or_none_for_now():
    payload = {"action": "accept_shift", "reason": "new normal", "actor": "alice"}
    assert events.parse_breaker_event(payload) == operator_payloads.AcceptShift(
        "new normal", "alice", None
    )
    shifted = events.parse_breaker_event({**payload, "since": "2026-01-05T02:00:00+02:00"})
    assert shifted == operator_payloads.AcceptShift(
        "new normal", "alice", "2026-01-05T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"since": "2026-01-05"}, "field 'since': expected an ISO 8601 time with a zone"),
        ({"since": "last monday"}, "field 'since'"),
        ({"since": "2999-01-01T00:00:00Z"}, "field 'since': expected a time that is not in"),
        ({"since": 1767571200}, "field 'since': expected a string"),
        ({"reason": None}, "field 'reason': expected a value"),
        ({"actor": None}, "field 'actor': expected a value"),
        ({"window": {}}, "field 'window'"),
    ],
)
def test_accept_shift_refusals(change, message):
    payload = {"action": "accept_shift", "reason": "r", "actor": "a", **change}
    with pytest.raises(EventError, match=message):
        events.parse_breaker_event({k: v for k, v in payload.items() if v is not None})


def test_a_verdict_alarm_names_its_rule_from_the_trigger_dimensions():
    message = json.loads(alarm_event()["Records"][0]["Sns"]["Message"])
    message["Trigger"].update(
        MetricName="RuleVerdict",
        Dimensions=[
            {"value": "booking_status", "name": "ModelName"},
            {"value": "NullRate", "name": "Rule"},
        ],
    )
    sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}
    [alarm] = events.parse_breaker_event(sns).alarms
    assert (alarm.metric, alarm.rule) == ("RuleVerdict", "NullRate")
    assert alarm.cause()["rule"] == "NullRate"
    [plain] = events.parse_breaker_event(alarm_event()).alarms
    assert plain.rule is None and "rule" not in plain.cause()


def test_the_signing_migration_is_a_train_action_and_nothing_else_is():
    assert events.parse_train_event(
        {"action": "sign_unsigned", "actor": "ops"}
    ) == events.SignUnsigned("ops")
    with pytest.raises(EventError, match="field 'action'"):
        events.parse_train_event({"action": "retrain"})
    with pytest.raises(EventError, match="field 'force'"):
        events.parse_train_event({"action": "sign_unsigned", "force": True})
