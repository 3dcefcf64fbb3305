"""The action fits the cause: broken inputs hold the batch (or open without a retrain), worse
predictions open and ask for a retrain, and the retrain back-off stops a retrain loop."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from mlcycle.breaker import machine
from mlcycle.breaker.causes import HELD_FOR_INPUTS, NO_RETRAIN_FOR_INPUTS
from mlcycle.breaker.policy import BreakerPolicy
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from tests.unit.breaker_world import BUCKETS, call, log_of, rule_state, set_state, state_of

OUTAGE = {
    "action": "gate_trip",
    "batch_id": "b9",
    "model_version": "v0003",
    "rules": ["JoinCoverage", "Volume"],
    "reason": "JoinCoverage 0.07 below its trip limit 0.93",
}


def _verdict_alarm(rule: str) -> dict:
    message = {
        "AlarmName": f"mlcycle-booking_status-{rule}-trip",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [2.0]",
        "Trigger": {
            "MetricName": "RuleVerdict",
            "Dimensions": [
                {"value": "booking_status", "name": "ModelName"},
                {"value": rule, "name": "Rule"},
            ],
            "Threshold": 2.0,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    }
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


def _retrains(invoked: list[dict]) -> list[dict]:
    return [p for p in invoked if p.get("recovery")]


@pytest.mark.parametrize("state", [CLOSED, OPEN, HALF_OPEN])
def test_a_gate_trip_on_integrity_rules_only_holds_for_corrected_inputs(world, state):
    store, invoked, _ = world
    if state != CLOSED:
        set_state(store, state)
    before, etag = state_of(store)

    result = call(world, OUTAGE)

    assert (result["changed"], result["state"]["state"], result["effects"]) == (False, state, [])
    assert state_of(store) == (before, etag)  # no transition: the state object is untouched
    assert invoked == [] and rule_state() == "ENABLED"
    [line] = log_of(store)
    assert (line["from"], line["to"], line["actor"]) == (state, state, "gate")
    assert line["cause"] == {
        "source": "gate",
        "batch_id": "b9",
        "model_version": "v0003",
        "rules": ["JoinCoverage", "Volume"],
        "reason": OUTAGE["reason"],
        "action": "held for corrected inputs",
    }
    assert result["event"] == line


def test_a_gate_trip_on_broken_inputs_holds_for_them_whatever_else_tripped(world):
    # A 94% outage also cost the estimated accuracy 4 points (z -10): the inputs explain it,
    # so they are corrected first, and the same champion judges the corrected batch.
    store, invoked, _ = world
    result = call(world, {**OUTAGE, "rules": ["JoinCoverage", "EstimatedAccuracy"]})

    assert (result["changed"], result["state"]["state"]) == (False, CLOSED)
    assert invoked == [] and rule_state() == "ENABLED"
    [line] = log_of(store)
    assert line["cause"]["action"] == HELD_FOR_INPUTS


def test_a_gate_trip_on_performance_rules_opens_and_asks_for_a_retrain(world):
    store, invoked, _ = world
    result = call(world, {**OUTAGE, "rules": ["EstimatedAccuracy"]})

    assert result["state"]["state"] == OPEN and rule_state() == "DISABLED"
    assert result["effects"] == ["inference rule disabled", "retrain requested"]
    assert len(_retrains(invoked)) == 1
    [line] = log_of(store)
    assert (line["from"], line["to"], line["retrain"]) == (CLOSED, OPEN, {"requested": True})
    [requested] = state_of(store)[0]["retrain_requests"]
    assert requested <= line["time"]


def test_an_integrity_verdict_alarm_opens_without_a_retrain(world):
    store, invoked, _ = world
    [result] = call(world, _verdict_alarm("NullRate"))["results"]

    assert (result["changed"], result["state"]) == (True, OPEN) and rule_state() == "DISABLED"
    reason = f"not requested: {NO_RETRAIN_FOR_INPUTS}"
    assert result["effects"] == ["inference rule disabled", f"retrain {reason}"]
    assert invoked == []
    [line] = log_of(store)
    assert (line["cause"]["rule"], line["cause"]["family"]) == ("NullRate", "integrity")
    assert line["retrain"] == {"requested": False, "reason": reason}
    assert state_of(store)[0]["retrain_requests"] == []  # not counted against the back-off


def test_a_performance_verdict_alarm_opens_and_asks_for_a_retrain(world):
    store, invoked, _ = world
    [result] = call(world, _verdict_alarm("RealisedAccuracy"))["results"]

    assert result["effects"] == ["inference rule disabled", "retrain requested"]
    assert [p["recovery"] for p in _retrains(invoked)] == [True]
    assert log_of(store)[0]["cause"]["family"] == "performance"


def test_a_scheduled_training_while_open_for_broken_inputs_is_no_recovery_run(world):
    from mlcycle.breaker.gate import training_plan
    from mlcycle.events import TrainRequest

    store, _, cfg = world
    scheduled = TrainRequest(actor="schedule", scheduled=True)
    set_state(store, OPEN, cause={"reason": "alarm", "rule": "NullRate", "family": "integrity"})
    assert training_plan(scheduled, cfg, store, BUCKETS) == scheduled
    set_state(store, OPEN, cause={"reason": "alarm", "rule": "RealisedAccuracy"})
    assert training_plan(scheduled, cfg, store, BUCKETS).recovery is True


@pytest.mark.parametrize(
    "breaches",
    [
        [{"rule": "JoinCoverage", "reason": "0.07 below 0.93"}],
        # broken inputs explain the estimate's drop: the candidate is not at fault
        [{"rule": "JoinCoverage", "reason": "0.07"}, {"rule": "EstimatedAccuracy", "reason": "-"}],
    ],
)
def test_an_integrity_breach_on_probation_sets_the_batch_aside_and_stays_half_open(world, breaches):
    store, invoked, _ = world
    set_state(store, HALF_OPEN)
    report = {
        "action": "probation_report",
        "batch_id": "b4",
        "healthy": False,
        "breaches": breaches,
        "model_version": "v0003",
    }

    result = call(world, report)

    assert result["state"]["state"] == HALF_OPEN and "b4" in result["state"]["rejected"]
    assert result["event"]["cause"]["action"] == HELD_FOR_INPUTS
    assert invoked == [] and rule_state() == "ENABLED"
    note, _ = store.get_json(BUCKETS.data, "held/b4/held.json")
    assert note["breaches"] == breaches  # the note says its input broke an integrity rule


def test_a_performance_breach_on_probation_still_reopens_and_retrains(world):
    store, invoked, _ = world
    set_state(store, HALF_OPEN)
    # b4 came in during probation: its inputs are in incoming/, its output in probation/.
    store.put_bytes(BUCKETS.data, "incoming/b4/bookings.csv", b"hotel_id\n1\n")
    store.put_bytes(BUCKETS.predictions, "probation/b4/predictions.csv", b"hotel_id\n1\n")
    store.put_json(BUCKETS.predictions, "probation/b4/_SUCCESS", {"model_version": "v0003"})
    report = {
        "action": "probation_report",
        "batch_id": "b4",
        "healthy": False,
        "breaches": [{"rule": "EstimatedAccuracy"}, {"rule": "EarlyPositiveRate"}],
        "model_version": "v0003",
    }
    result = call(world, report)
    assert result["state"]["state"] == OPEN and len(_retrains(invoked)) == 1
    # The candidate's fault: its output goes, the inputs wait in held/ for the next candidate.
    assert "b4" not in (result["state"].get("rejected") or {})
    assert [o["Key"] for o in store.list(BUCKETS.predictions, "probation/b4/")] == []
    held = sorted(o["Key"] for o in store.list(BUCKETS.data, "held/b4/"))
    assert held == ["held/b4/bookings.csv", "held/b4/held.json"]


# --- the retrain back-off ---------------------------------------------------------------------


class Clock:
    def __init__(self, start: dt.datetime):
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC))
    monkeypatch.setattr(machine, "now", clock)
    return clock


PERFORMANCE_ALARM = _verdict_alarm("EstimatedAccuracy")
CLOSE = {"action": "close", "reason": "looked fine", "actor": "alice"}


def test_at_most_the_daily_limit_of_retrains_then_a_reason_and_no_loop(world, clock):
    store, invoked, cfg = world
    cfg = replace(cfg, breaker=BreakerPolicy(max_retrains_per_day=2))
    first = clock.at
    for hours in (0, 5):
        clock.at = first + dt.timedelta(hours=hours)
        [opened] = call(world, PERFORMANCE_ALARM, cfg)["results"]
        assert opened["effects"][-1] == "retrain requested"
        call(world, CLOSE, cfg)
    clock.at = first + dt.timedelta(hours=9)

    [stopped] = call(world, PERFORMANCE_ALARM, cfg)["results"]

    reason = (
        "not requested: 2 retrain request(s) in the last 24 h (breaker.max_retrains_per_day 2); "
        "the next one is possible from 2026-03-02T08:00:00+00:00"
    )
    assert (stopped["changed"], stopped["state"]) == (True, OPEN)
    assert stopped["effects"] == ["inference rule disabled", f"retrain {reason}"]
    assert len(_retrains(invoked)) == 2
    line = log_of(store)[-1]
    assert (line["to"], line["retrain"]) == (OPEN, {"requested": False, "reason": reason})
    assert state_of(store)[0]["retrain_requests"] == [
        "2026-03-01T08:00:00+00:00",
        "2026-03-01T13:00:00+00:00",
    ]

    call(world, CLOSE, cfg)
    clock.at = first + dt.timedelta(hours=24, minutes=1)  # the first request left the window
    [again] = call(world, PERFORMANCE_ALARM, cfg)["results"]
    assert again["effects"][-1] == "retrain requested" and len(_retrains(invoked)) == 3
    assert state_of(store)[0]["retrain_requests"] == [
        "2026-03-01T13:00:00+00:00",
        "2026-03-02T08:01:00+00:00",
    ]


KEPT = {
    "status": "stored_not_promoted",
    "champion": "v0003",
    "candidates": {"metric": "log_loss", "champion": {"version": "v0003", "log_loss": 0.81}},
}


@pytest.mark.parametrize(
    "cause, goes_on_probation",
    [
        ({"reason": "alarm", "rule": "PositiveRateGap", "family": "performance"}, True),
        ({"reason": "gate", "rules": ["EstimatedAccuracy"]}, True),
        ({"reason": "vendor feed broken", "manual": True}, False),
        ({"reason": "alarm", "rule": "NullRate", "family": "integrity"}, False),
    ],
)
def test_a_recovery_that_keeps_the_champion_puts_it_on_probation_after_a_performance_trip(
    world, monkeypatch, cause, goes_on_probation
):
    from mlcycle.breaker import gate

    store, _, _ = world
    sent: list[dict] = []
    monkeypatch.setattr(gate, "invoke_async", lambda env, payload: sent.append(payload))
    set_state(store, OPEN, cause=cause)
    gate.champion_kept(KEPT, store, BUCKETS)
    kept = {"action": "model_promoted", "version": "v0003", "kept": True}
    expected = [kept] if goes_on_probation else []
    assert sent == expected
    # A champion the recovery could not score vouches for nothing.
    set_state(store, OPEN, cause={"reason": "alarm", "rule": "RealisedAccuracy"})
    sent.clear()
    gate.champion_kept({**KEPT, "candidates": {"metric": "log_loss"}}, store, BUCKETS)
    assert sent == []


def test_a_kept_champion_refuted_on_probation_is_not_put_on_probation_again(world, monkeypatch):
    # Its held batches, the refuting one among them, would refute it again: the breaker stays
    # OPEN until a recovery candidate beats it (or an operator acts).
    from mlcycle.breaker import gate

    store, _, _ = world
    sent: list[dict] = []
    monkeypatch.setattr(gate, "invoke_async", lambda env, payload: sent.append(payload))
    refuted = {
        "reason": "breach on probation",
        "batch_id": "day-26",
        "breaches": [{"rule": "EstimatedAccuracy"}],
        "candidate": "v0003",
    }
    set_state(store, OPEN, cause=refuted)
    gate.champion_kept(KEPT, store, BUCKETS)
    assert sent == []
    set_state(store, OPEN, cause={**refuted, "candidate": "v0004"})  # another was refuted
    gate.champion_kept(KEPT, store, BUCKETS)
    assert sent == [{"action": "model_promoted", "version": "v0003", "kept": True}]
