"""The incident the breaker remembers from its first trip to its close, and the recovery that
may not promote on labels older than the batch whose labels opened it."""

from __future__ import annotations

import datetime as dt

import pytest

from mlcycle import storage
from mlcycle.breaker import machine
from mlcycle.breaker.gate import promotion_veto
from mlcycle.breaker.incident import evidence_batch, labels_since, predates
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from mlcycle.monitoring.window import WINDOW_FORMAT
from mlcycle.training_data import TrainingSet, batch_arrival
from tests.unit.breaker_world import BUCKETS, call, set_state, state_of

DAY = dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)
LABEL_ALARM = {"reason": "alarm", "rule": "EarlyPositiveRate", "family": "performance"}


def _at(day: int) -> dt.datetime:
    return DAY + dt.timedelta(days=day - 20)


def _entry(batch_id: str, day: int, **levels: int) -> dict:
    return {"batch_id": batch_id, "published_at": _at(day).isoformat(), "levels": levels}


def _open(day: int = 26, labels: bool = True) -> dict:
    since = _at(day).isoformat()
    return {"state": OPEN, "incident": {"since": since, "labels_since": since if labels else None}}


ENTRIES = [
    _entry("day-23", 23, RealisedAccuracy=0, FeatureDrift=1),
    _entry("day-24", 24, RealisedAccuracy=0),
    # Its partial labels opened the incident on day 26.
    _entry("day-25", 25, EarlyPositiveRate=2, FeatureDrift=0),
    # Scored on probation after the trip: its labels say nothing of when the harm began.
    _entry("day-26", 26.5, EarlyPositiveRate=2),
]


def test_the_evidence_is_the_newest_batch_before_the_labels_found_the_incident():
    assert labels_since(_open()) == _at(26)
    assert evidence_batch(ENTRIES, _at(26)) == "day-25"
    assert evidence_batch(ENTRIES, _at(27)) == "day-26"  # found by a breach on probation
    # A warning, or a trip of a rule that does not judge labels, is no label evidence.
    warned = [_entry("day-25", 25, EarlyPositiveRate=1, PredictionDrift=2, JoinCoverage=2)]
    assert evidence_batch(warned, _at(26)) is None
    assert evidence_batch([{**ENTRIES[2], "published_at": "2026-01-25T09:00:00"}], _at(26)) is None


@pytest.mark.parametrize(
    "state",
    [
        _open(labels=False),  # inputs, label-free rules or an operator opened it
        {**_open(), "state": HALF_OPEN},
        {"state": OPEN, "incident": None},  # a state from before incidents
    ],
)
def test_only_an_open_breaker_whose_incident_labels_found_asks(state):
    assert labels_since(state) is None


def test_labels_older_than_the_batch_that_showed_the_incident_cannot_promote():
    assert predates(_at(24), "day-25", _at(25)) == (
        "not promoted: the newest labels trained on are of a batch that came in at "
        "2026-01-24T09:00:00+00:00, before day-25 (2026-01-25T09:00:00+00:00), whose labels "
        "showed the incident: they cannot show whether a model repairs it"
    )
    assert "an unknown time" in predates(None, "day-25", _at(25))
    # The tripping batch's own labels, or a later batch's, may show the repair.
    assert predates(_at(25), "day-25", _at(25)) is None
    assert predates(_at(27), "day-25", _at(25)) is None


def test_the_incident_lasts_from_the_first_trip_through_probation_to_the_close(world, monkeypatch):
    store, _, _ = world
    clock = {"at": _at(26)}
    monkeypatch.setattr(machine, "now", lambda: clock["at"])
    breaker = machine.Breaker(store, BUCKETS.monitoring, _Quiet())
    breaker.trip(LABEL_ALARM, "alarm")
    first = {"since": _at(26).isoformat(), "labels_since": _at(26).isoformat()}
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
    assert state_of(store)[0]["incident"] == {"since": _at(30).isoformat(), "labels_since": None}
    # Labels finding it later, by a breach on probation, mark when they did.
    breaker.model_promoted("v0031", "training")
    clock["at"] = _at(31)
    breaker.probation_report("day-31", False, [{"rule": "RealisedAccuracy"}], "monitor", "v0031")
    assert state_of(store)[0]["incident"] == {
        "since": _at(30).isoformat(),
        "labels_since": _at(31).isoformat(),
    }


def test_a_malformed_incident_is_an_unknown_state(world):
    store, _, _ = world
    set_state(store, OPEN, incident={"since": "yesterday"})
    assert call(world, {"action": "status"})["state"]["state"] == "UNKNOWN"


def test_the_promotion_veto_compares_arrivals_as_the_training_set_counts_them(world):
    store, _, cfg = world
    window = {"format": WINDOW_FORMAT, "accepted_since": None, "entries": ENTRIES}
    store.put_json(BUCKETS.monitoring, storage.window_key(cfg.name), window)
    published = {"batch_id": "day-25", "published_at": _at(25).isoformat()}
    store.put_json(BUCKETS.predictions, storage.success_key("day-25"), published)
    # day-26 came in during the incident, was held, then scored on probation half a day later.
    held_at = _at(26).isoformat()
    store.put_json(BUCKETS.data, storage.held_note_key("day-26"), {"held_at": held_at})
    on_probation = {
        "batch_id": "day-26",
        "published_at": _at(26.5).isoformat(),
        "input_prefix": storage.held_prefix("day-26"),
    }
    store.put_json(BUCKETS.predictions, storage.success_key("day-26", True), on_probation)
    veto = promotion_veto(cfg, store, BUCKETS)

    set_state(store, OPEN, incident=_open()["incident"], cause=LABEL_ALARM)
    assert "before day-25 (2026-01-25T09:00:00+00:00)" in veto(
        TrainingSet(None, {}, newest_arrival=_at(24))
    )
    assert veto(TrainingSet(None, {}, newest_arrival=_at(25))) is None
    # Labels found it by day-26's breach on probation: day-26's own labels (counted from its
    # hold, as training counts them) may promote, older ones may not.
    set_state(store, OPEN, incident={**_open()["incident"], "labels_since": _at(27).isoformat()})
    assert veto(TrainingSet(None, {}, newest_arrival=_at(26))) is None
    assert "before day-26" in veto(TrainingSet(None, {}, newest_arrival=_at(25)))
    set_state(store, HALF_OPEN, incident=_open()["incident"])
    assert veto(TrainingSet(None, {}, newest_arrival=_at(27))) == (
        "not promoted: None is on probation"
    )


def test_a_manifest_without_its_publication_time_leaves_the_arrival_unknown(world):
    store = world[0]
    published = {"batch_id": "day-25", "published_at": _at(25).isoformat()}
    assert batch_arrival(store, BUCKETS, "day-25", published) == _at(25)
    assert batch_arrival(store, BUCKETS, "day-25", {"batch_id": "day-25"}) is None


class _Quiet:
    """Breaker actions with no effect: this test reads the state alone."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: []
