"""The incident the breaker remembers from its first trip to its close, and the recovery that
may not promote on labels older than the batch whose labels opened it."""

from __future__ import annotations

import datetime as dt

import pytest

from mlcycle import storage
from mlcycle.breaker import machine
from mlcycle.breaker.gate import promotion_veto
from mlcycle.breaker.incident import predates_incident
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from mlcycle.monitoring.window import WINDOW_FORMAT
from mlcycle.training_data import TrainingSet
from tests.unit.breaker_world import BUCKETS, call, set_state, state_of

DAY = dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)
LABEL_ALARM = {"reason": "alarm", "rule": "EarlyPositiveRate", "family": "performance"}


def _at(day: int) -> dt.datetime:
    return DAY + dt.timedelta(days=day - 20)


def _entry(batch_id: str, day: int, **levels: int) -> dict:
    return {"batch_id": batch_id, "published_at": _at(day).isoformat(), "levels": levels}


def _open(day: int = 26, label_triggered: bool = True) -> dict:
    incident = {"since": _at(day).isoformat(), "label_triggered": label_triggered}
    return {"state": OPEN, "incident": incident}


ENTRIES = [
    _entry("day-23", 23, RealisedAccuracy=0, FeatureDrift=1),
    _entry("day-24", 24, RealisedAccuracy=0),
    # Its partial labels opened the incident on day 26.
    _entry("day-25", 25, EarlyPositiveRate=2, FeatureDrift=0),
    # Scored on probation after the trip: its labels say nothing of when the harm began.
    _entry("day-26", 26.5, EarlyPositiveRate=2),
]


def test_labels_older_than_the_batch_that_opened_the_incident_cannot_promote():
    reason = predates_incident(_open(), ENTRIES, _at(24))
    assert reason == (
        "not promoted: the newest labels trained on are of a batch that came in at "
        "2026-01-24T09:00:00+00:00, before the batch whose labels opened the incident "
        "(2026-01-25T09:00:00+00:00): they cannot show whether a model repairs it"
    )
    assert "an unknown time" in predates_incident(_open(), ENTRIES, None)
    # The tripping batch's own labels, or a later batch's, may show the repair.
    assert predates_incident(_open(), ENTRIES, _at(25)) is None
    assert predates_incident(_open(), ENTRIES, _at(27)) is None


@pytest.mark.parametrize(
    "state, entries",
    [
        (_open(label_triggered=False), ENTRIES),  # inputs or an operator opened it
        ({**_open(), "state": HALF_OPEN}, ENTRIES),
        ({"state": OPEN, "incident": None}, ENTRIES),  # a state from before incidents
        (_open(), ENTRIES[:2]),  # no label trip in the window: nothing to compare with
        (_open(day=25), ENTRIES),  # the only label trips came after the incident began
        (_open(), [{**ENTRIES[2], "published_at": "2026-01-25T09:00:00"}]),  # no zone
    ],
)
def test_the_usual_gate_decides_when_there_is_no_label_evidence_to_compare_with(state, entries):
    assert predates_incident(state, entries, _at(24)) is None


def test_a_warning_or_a_label_free_trip_is_no_label_evidence():
    entries = [_entry("day-25", 25, EarlyPositiveRate=1, PredictionDrift=2, JoinCoverage=2)]
    assert predates_incident(_open(), entries, _at(24)) is None


def test_the_incident_lasts_from_the_first_trip_through_probation_to_the_close(world, monkeypatch):
    store, _, _ = world
    clock = {"at": _at(26)}
    monkeypatch.setattr(machine, "now", lambda: clock["at"])
    breaker = machine.Breaker(store, BUCKETS.monitoring, _Quiet())
    breaker.trip(LABEL_ALARM, "alarm")
    first = {"since": _at(26).isoformat(), "label_triggered": True}
    assert state_of(store)[0]["incident"] == first

    clock["at"] = _at(27)
    breaker.model_promoted("v0029", "training")
    breach = [{"rule": "EstimatedAccuracy"}]  # a label-free breach continues the incident
    breaker.probation_report("day-27", False, breach, "monitor", "v0029")
    state = state_of(store)[0]
    assert (state["state"], state["cause"]["batch_id"], state["incident"]) == (
        OPEN,
        "day-27",
        first,
    )

    breaker.model_promoted("v0030", "training")
    breaker.probation_report("day-28", True, [], "monitor", "v0030", labelled=True)
    breaker.probation_report("day-29", True, [], "monitor", "v0030", labelled=True)
    assert (state_of(store)[0]["state"], state_of(store)[0]["incident"]) == (CLOSED, None)
    clock["at"] = _at(30)
    breaker.trip({"reason": "vendor feed broken", "manual": True}, "alice")
    assert state_of(store)[0]["incident"] == {
        "since": _at(30).isoformat(),
        "label_triggered": False,
    }


def test_a_malformed_incident_is_an_unknown_state(world):
    store, _, _ = world
    set_state(store, OPEN, incident={"since": "yesterday"})
    assert call(world, {"action": "status"})["state"]["state"] == "UNKNOWN"


def test_the_promotion_veto_reads_the_monitor_window_and_the_training_set(world):
    store, _, cfg = world
    set_state(store, OPEN, incident=_open()["incident"], cause=LABEL_ALARM)
    window = {"format": WINDOW_FORMAT, "accepted_since": None, "entries": ENTRIES}
    store.put_json(BUCKETS.monitoring, storage.window_key(cfg.name), window)
    veto = promotion_veto(cfg, store, BUCKETS)
    assert veto(TrainingSet(None, {}, newest_arrival=_at(24))).startswith("not promoted:")
    assert veto(TrainingSet(None, {}, newest_arrival=_at(25))) is None
    set_state(store, HALF_OPEN, incident=_open()["incident"])
    assert veto(TrainingSet(None, {}, newest_arrival=_at(27))) == (
        "not promoted: None is on probation"
    )


class _Quiet:
    """Breaker actions with no effect: this test reads the state alone."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: []
