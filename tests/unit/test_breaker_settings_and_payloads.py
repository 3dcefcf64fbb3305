"""The breaker's new settings, the operators' new payloads (refused with the field named), the
retrain back-off's arithmetic and a held batch's limit."""

from __future__ import annotations

import datetime as dt

import pytest

from mlcycle import events
from mlcycle.batches import HeldBatch
from mlcycle.breaker import backoff
from mlcycle.breaker.operator_payloads import ExtendHold, Release, Rollback
from mlcycle.breaker.payloads import parse_breaker_event
from mlcycle.breaker.policy import BreakerPolicy, parse_breaker_policy
from mlcycle.breaker.state import UNKNOWN, read_state
from mlcycle.config import load_config
from mlcycle.errors import ConfigError, EventError
from tests.conftest import MODEL_DIR

# --- settings ---------------------------------------------------------------------------------


def test_the_breaker_settings_default_to_three_retrains_a_day_and_a_day_then_a_page():
    assert load_config(MODEL_DIR / "model_config.yml").breaker == BreakerPolicy(3, 24.0, "page")
    assert parse_breaker_policy(
        {"max_retrains_per_day": 1, "max_hold_hours": 6.5, "hold_fallback": "publish"}
    ) == BreakerPolicy(1, 6.5, "publish")


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"max_retrains_per_day": -1}, "breaker.max_retrains_per_day must be 0 or more"),
        ({"max_retrains_per_day": "many"}, "breaker: invalid literal"),
        ({"max_hold_hours": 0}, "breaker.max_hold_hours must be above 0"),
        (
            {"hold_fallback": "email"},
            "breaker.hold_fallback must be one of \\['page', 'publish'\\]",
        ),
    ],
)
def test_wrong_breaker_settings_are_refused_with_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_breaker_policy(raw)


# --- payloads ---------------------------------------------------------------------------------

RELEASE = {"action": "release", "batch_id": "b3", "reason": "fixed", "actor": "bob"}
EXTEND = {"action": "extend_hold", "batch_id": "b3", "hours": 12, "reason": "r", "actor": "al"}


def test_the_operator_actions_parse_into_typed_events():
    rollback = {"action": "rollback", "reason": "bad model", "actor": "alice"}
    assert parse_breaker_event(rollback) == Rollback("bad model", "alice")
    assert parse_breaker_event(RELEASE) == Release("b3", "fixed", "bob", False)
    assert parse_breaker_event({**RELEASE, "force": True}) == Release("b3", "fixed", "bob", True)
    assert parse_breaker_event(EXTEND) == ExtendHold("b3", 12, "r", "al")
    assert events.parse_breaker_event is parse_breaker_event  # the handler's import still works


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"action": "rollback", "actor": "a"}, "field 'reason': expected a value"),
        (
            {"action": "rollback", "reason": "r", "actor": "  "},
            "field 'actor': expected a non-blank",
        ),
        ({"action": "rollback", "reason": "r", "actor": "a", "to": "v1"}, "field 'to'"),
        ({**RELEASE, "batch_id": "../x"}, "field 'batch_id': expected a batch id"),
        ({**RELEASE, "force": "yes"}, "field 'force': expected a boolean"),
        ({**RELEASE, "reason": ""}, "field 'reason': expected a non-blank text"),
        ({k: v for k, v in RELEASE.items() if k != "batch_id"}, "field 'batch_id': expected a"),
        ({**EXTEND, "hours": 0}, "field 'hours': expected a whole number from 1 to 168"),
        ({**EXTEND, "hours": 169}, "field 'hours': expected a whole number from 1 to 168"),
        ({**EXTEND, "hours": "12"}, "field 'hours': expected an integer"),
        ({**EXTEND, "hours": 1.5}, "field 'hours': expected an integer"),
        ({**EXTEND, "hours": True}, "field 'hours': expected an integer"),
        ({k: v for k, v in EXTEND.items() if k != "hours"}, "field 'hours': expected a value"),
        ({"action": "roll_back"}, "field 'action': expected an SNS alarm notification or action"),
    ],
)
def test_operator_payloads_are_refused_naming_the_field(payload, message):
    with pytest.raises(EventError, match=message):
        parse_breaker_event(payload)


def test_infer_takes_the_breakers_release_and_a_sweep_of_the_holds():
    assert events.parse_infer_event({"action": "release", "batch_id": "b3"}) == (
        events.ReleaseHeld("b3")
    )
    assert events.parse_infer_event({"action": "sweep_holds"}) == events.SweepHolds()
    with pytest.raises(EventError, match="field 'force'"):
        events.parse_infer_event({"action": "release", "batch_id": "b3", "force": True})
    with pytest.raises(EventError, match="field 'batch_id': expected a value"):
        events.parse_infer_event({"action": "release"})


# --- the back-off's arithmetic ----------------------------------------------------------------

AT = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def test_requests_older_than_a_day_leave_the_window():
    old, recent = "2026-03-01T11:00:00+00:00", "2026-03-02T01:00:00+00:00"
    decision = backoff.decide([old, recent], 2, AT)
    assert decision == backoff.RetrainDecision(True, [recent, AT.isoformat()])
    assert decision.as_log() == {"requested": True}


def test_a_limit_of_zero_never_requests():
    decision = backoff.decide([], 0, AT)
    assert (decision.requested, decision.requests) == (False, [])
    assert decision.reason == "not requested: breaker.max_retrains_per_day is 0 (retrains by hand)"


def test_a_state_with_unreadable_retrain_requests_is_unknown(world):
    from mlcycle import storage
    from tests.unit.breaker_world import BUCKETS, set_state

    store, _, _ = world
    for bad in ("2026-03-01T08:00:00", "yesterday", 7):
        set_state(store, "OPEN", retrain_requests=[bad])
        state, _ = read_state(store, BUCKETS.monitoring)
        assert state["state"] == UNKNOWN and "retrain_requests" in state["problem"]
    store.put_json(BUCKETS.monitoring, storage.BREAKER_STATE_KEY, {"state": "OPEN", "revision": 1})
    assert read_state(store, BUCKETS.monitoring)[0]["state"] == "OPEN"  # older states still load


# --- a held batch's limit ---------------------------------------------------------------------


def test_a_held_batch_waits_max_hold_hours_unless_an_operator_moved_its_limit():
    held = HeldBatch("b1", {"held_at": "2026-03-01T08:00:00+00:00"})
    assert held.limit(24) == dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)
    moved = HeldBatch("b1", {**held.note, "hold_until": "2026-03-04T00:00:00+00:00"})
    assert moved.limit(24) == dt.datetime(2026, 3, 4, tzinfo=dt.UTC)


def test_a_held_batch_names_the_integrity_rules_its_input_broke():
    gate = HeldBatch("b1", {"gate": {"trips": ["EstimatedAccuracy", "JoinCoverage"]}})
    probation = HeldBatch("b2", {"breaches": [{"rule": "NullRate"}, {"metric": "accuracy"}]})
    model = HeldBatch("b3", {"gate": {"trips": ["EstimatedAccuracy"]}, "breaches": []})
    assert (gate.integrity_rules, probation.integrity_rules, model.integrity_rules) == (
        ["JoinCoverage"],
        ["NullRate"],
        [],
    )
