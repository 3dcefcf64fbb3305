"""The breaker's gate trips, verdict alarms and accepted shifts, on moto's in-process AWS: the
state, the event log and the window in S3, the inference rule in EventBridge."""

from __future__ import annotations

import json

import pytest

from mlcycle import storage
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from mlcycle.monitoring import window as windows
from tests.unit.breaker_world import BUCKETS, call, log_of, rule_state, set_state, state_of

GATE = {
    "action": "gate_trip",
    "batch_id": "b7",
    "model_version": "v0003",
    "rules": ["EstimatedAccuracy"],
    "reason": "EstimatedAccuracy 0.52 below its trip limit 0.61",
}


# --- gate trips ------------------------------------------------------------------------------


def test_a_gate_trip_on_a_performance_rule_opens_a_closed_breaker_like_an_alarm_does(world):
    store, retrains, _ = world
    result = call(world, GATE)

    cause = {
        "source": "gate",
        "batch_id": "b7",
        "model_version": "v0003",
        "rules": ["EstimatedAccuracy"],
        "reason": GATE["reason"],
    }
    assert result["changed"] is True and result["state"]["state"] == OPEN
    assert result["state"]["cause"] == cause and result["state"]["model_version"] == "v0003"
    assert result["effects"] == ["inference rule disabled", "retrain requested"]
    assert rule_state() == "DISABLED"
    assert [r["recovery"] for r in retrains] == [True]
    assert GATE["reason"] in retrains[0]["reason"]
    [line] = log_of(store)
    assert (line["from"], line["to"], line["actor"], line["cause"]) == (CLOSED, OPEN, "gate", cause)
    json.dumps(result)  # the function's answer is JSON as it stands


@pytest.mark.parametrize("state", [OPEN, HALF_OPEN])
def test_a_gate_trip_changes_nothing_unless_closed(world, state):
    store, retrains, _ = world
    set_state(store, state)
    _, before = state_of(store)

    result = call(world, GATE)

    assert result["changed"] is False and result["state"]["state"] == state
    assert state_of(store)[1] == before
    assert log_of(store) == [] and retrains == [] and rule_state() == "ENABLED"


def test_a_verdict_alarm_records_the_rule_that_tripped(world):
    store, _, _ = world
    message = {
        "AlarmName": "mlcycle-booking_status-JoinCoverage-trip",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [2.0]",
        "Trigger": {
            "MetricName": "RuleVerdict",
            "Namespace": "MLCycle/booking_status",
            "Dimensions": [
                {"value": "booking_status", "name": "ModelName"},
                {"value": "JoinCoverage", "name": "Rule"},
            ],
            "Threshold": 2.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    }
    sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}

    [result] = call(world, sns)["results"]

    assert result["state"] == OPEN
    [line] = log_of(store)
    assert (line["cause"]["metric"], line["cause"]["rule"]) == ("RuleVerdict", "JoinCoverage")
    assert line["cause"]["family"] == "integrity"
    assert line["actor"] == "alarm:mlcycle-booking_status-JoinCoverage-trip"


# --- accepted shifts --------------------------------------------------------------------------


def _window(store) -> tuple[dict | None, str | None]:
    return store.get_json(BUCKETS.monitoring, storage.window_key("booking_status"))


def test_accepting_a_shift_writes_the_window_and_logs_who_and_why_without_a_transition(world):
    store, _, _ = world
    _, before = state_of(store)
    payload = {
        "action": "accept_shift",
        "reason": "new partner hotels: a lasting change of mix",
        "actor": "alice",
        "since": "2026-01-05T00:00:00Z",
    }

    result = call(world, payload)

    window, _ = _window(store)
    assert window == {
        **windows.empty(),
        "accepted_since": "2026-01-05T00:00:00+00:00",
        "accepted_by": "alice",
    }
    assert (result["changed"], result["state"]["state"]) == (False, CLOSED)
    assert (result["accepted_since"], result["accepted_by"]) == (
        "2026-01-05T00:00:00+00:00",
        "alice",
    )
    assert state_of(store)[1] == before  # the breaker's state is not touched
    [line] = log_of(store)
    assert (line["from"], line["to"], line["actor"], line["revision"]) == (
        CLOSED,
        CLOSED,
        "alice",
        0,
    )
    assert line["cause"] == {
        "reason": payload["reason"],
        "manual": True,
        "accept_shift": True,
        "since": "2026-01-05T00:00:00+00:00",
    }
    assert result["event"] == line


def test_accepting_a_shift_keeps_what_the_monitor_wrote_meanwhile(world, monkeypatch):
    """The monitor writes the window too: a write between the read and the conditional write
    makes the acceptance re-read, so the monitor's entry stays."""
    store, _, _ = world
    key = storage.window_key("booking_status")
    store.put_json(BUCKETS.monitoring, key, {**windows.empty(), "entries": [{"batch_id": "b1"}]})
    read = store.get_json
    raced = []

    def get_json(bucket, wanted):
        doc, etag = read(bucket, wanted)
        if wanted == key and not raced:
            raced.append(True)
            entries = [*doc["entries"], {"batch_id": "b2"}]
            store.put_json(bucket, key, {**doc, "entries": entries})
        return doc, etag

    monkeypatch.setattr(store, "get_json", get_json)

    call(world, {"action": "accept_shift", "reason": "r", "actor": "bob"})

    window, _ = _window(store)
    assert [e["batch_id"] for e in window["entries"]] == ["b1", "b2"]
    assert window["accepted_by"] == "bob" and window["accepted_since"]


def test_an_accepted_shift_defaults_to_now_and_works_in_any_state(world):
    store, _, _ = world
    set_state(store, OPEN)
    result = call(world, {"action": "accept_shift", "reason": "r", "actor": "bob"})
    window, _ = _window(store)
    assert window["accepted_since"] == result["accepted_since"] <= result["event"]["time"]
    assert result["state"]["state"] == OPEN and result["event"]["revision"] == 4
