"""Operators' recovery actions on the breaker function: rollback, release, extend_hold. Each is
a line in the event log; each is refused, changing nothing, when it cannot apply."""

from __future__ import annotations

import datetime as dt

import pytest

from mlcycle import storage
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN
from tests.unit.breaker_world import BUCKETS, call, log_of, set_state, state_of

ROLLBACK = {"action": "rollback", "reason": "v0002 misbehaves on weekends", "actor": "alice"}
HELD_AT = "2026-03-01T08:00:00+00:00"


def _aliases(store, champion="v0002", previous="v0001") -> None:
    doc = {"champion": champion, "previous": previous, "history": []}
    store.put_json(BUCKETS.models, storage.aliases_key("booking_status"), doc)


def _champion(store) -> tuple[str, str]:
    doc, _ = store.get_json(BUCKETS.models, storage.aliases_key("booking_status"))
    return doc["champion"], doc["previous"]


def _hold(store, batch_id="b3", **note) -> None:
    doc = {"batch_id": batch_id, "reason": "breaker OPEN", "held_at": HELD_AT, "complete": True}
    store.put_json(BUCKETS.data, storage.held_note_key(batch_id), {**doc, **note})


def _note(store, batch_id="b3") -> dict:
    return store.get_json(BUCKETS.data, storage.held_note_key(batch_id))[0]


def _unknown(store) -> None:
    store.put_json(BUCKETS.monitoring, storage.BREAKER_STATE_KEY, {"state": "SIDEWAYS"})


# --- rollback ---------------------------------------------------------------------------------


def test_a_rollback_while_closed_makes_previous_the_champion_and_logs_it(world):
    store, invoked, _ = world
    _aliases(store)
    before = state_of(store)

    result = call(world, ROLLBACK)

    assert _champion(store) == ("v0001", "v0002")
    assert (result["changed"], result["state"]["state"]) == (False, CLOSED)
    assert result["effects"] == ["champion v0002 -> v0001"]
    assert state_of(store) == before and invoked == []
    [line] = log_of(store)
    assert (line["from"], line["to"], line["actor"]) == (CLOSED, CLOSED, "alice")
    assert line["cause"] == {
        "reason": ROLLBACK["reason"],
        "manual": True,
        "action": "rollback",
        "from_version": "v0002",
        "to_version": "v0001",
    }
    history = store.get_json(BUCKETS.models, storage.aliases_key("booking_status"))[0]["history"]
    assert (history[-1]["actor"], history[-1]["champion"]) == ("alice", "v0001")


def test_a_rollback_while_open_puts_the_previous_champion_on_probation(world):
    store, invoked, _ = world
    _aliases(store)
    set_state(store, OPEN)

    result = call(world, ROLLBACK)

    assert result["state"]["state"] == HALF_OPEN
    assert result["state"]["probation"]["model_version"] == "v0001"
    assert result["effects"] == ["champion v0002 -> v0001", "held batches scored on probation"]
    assert invoked == [{"action": "score_held", "probation": True}]
    moves = [(e["from"], e["to"], e["cause"]["reason"]) for e in log_of(store)]
    assert moves == [
        (OPEN, OPEN, ROLLBACK["reason"]),
        (OPEN, HALF_OPEN, "rolled back to previous"),
    ]


@pytest.mark.parametrize(
    "setup, refusal",
    [
        (lambda s: set_state(s, HALF_OPEN), "refused: v0003 is on probation"),
        (lambda s: _aliases(s, previous=None), "refused: the model store names no previous"),
        (_unknown, "refused: breaker state unknown"),
    ],
)
def test_a_rollback_that_cannot_apply_changes_nothing(world, setup, refusal):
    store, invoked, _ = world
    _aliases(store)
    set_state(store, CLOSED, model_version="v0003")
    setup(store)
    aliases = store.get_json(BUCKETS.models, storage.aliases_key("booking_status"))

    result = call(world, ROLLBACK)

    assert result["changed"] is False and result["effects"][0].startswith(refusal)
    assert store.get_json(BUCKETS.models, storage.aliases_key("booking_status")) == aliases
    assert log_of(store) == [] and invoked == []


# --- release ----------------------------------------------------------------------------------


@pytest.mark.parametrize("force", [False, True])
def test_a_release_writes_the_order_into_the_note_logs_it_and_asks_infer(world, force):
    store, invoked, _ = world
    _hold(store)
    payload = {"action": "release", "batch_id": "b3", "reason": "vendor confirmed", "actor": "bob"}

    result = call(world, {**payload, "force": force} if force else payload)

    order = _note(store)["release"]
    assert (order["actor"], order["reason"], order["force"]) == ("bob", "vendor confirmed", force)
    assert invoked == [{"action": "release", "batch_id": "b3"}]
    [line] = log_of(store)
    assert (line["from"], line["to"], line["actor"]) == (CLOSED, CLOSED, "bob")
    assert line["cause"] == {
        "reason": "vendor confirmed",
        "manual": True,
        "action": "release",
        "batch_id": "b3",
        "force": force,
    }
    gate = "over the gate (flagged in the manifest)" if force else "through the gate"
    assert result["effects"] == [f"infer asked to score b3 with the champion and publish it {gate}"]


@pytest.mark.parametrize(
    "setup, refusal",
    [
        (lambda s: None, "refused: batch b3 is not held (or is published already)"),
        (
            lambda s: (_hold(s), s.put_json(BUCKETS.predictions, "predictions/b3/_SUCCESS", {})),
            "refused: batch b3 is not held (or is published already)",
        ),
        (lambda s: (_hold(s), _unknown(s)), "refused: breaker state unknown"),
    ],
)
def test_a_release_of_a_batch_that_is_not_held_changes_nothing(world, setup, refusal):
    store, invoked, _ = world
    setup(store)
    payload = {"action": "release", "batch_id": "b3", "reason": "r", "actor": "bob"}

    result = call(world, payload)

    assert result["changed"] is False and result["effects"][0].startswith(refusal)
    assert log_of(store) == [] and invoked == []
    assert "release" not in (_note(store) or {})


# --- extend_hold ------------------------------------------------------------------------------

EXTEND = {
    "action": "extend_hold",
    "batch_id": "b3",
    "hours": 12,
    "reason": "fix due",
    "actor": "al",
}


def test_extending_a_hold_pushes_its_limit_and_logs_it(world, monkeypatch):
    import mlcycle.breaker.operators as operators

    store, _, _ = world
    monkeypatch.setattr(operators, "now", lambda: dt.datetime(2026, 3, 1, 20, tzinfo=dt.UTC))
    _hold(store)

    result = call(world, EXTEND)

    # held 08:00, limit 24 h later; 12 h more
    note = _note(store)
    assert note["hold_until"] == "2026-03-02T20:00:00+00:00"
    [extension] = note["extensions"]
    assert (extension["hours"], extension["actor"], extension["reason"]) == (12, "al", "fix due")
    assert result["effects"] == ["b3 held until 2026-03-02T20:00:00+00:00"]
    [line] = log_of(store)
    assert line["cause"]["action"] == "extend_hold" and line["cause"]["hours"] == 12
    assert line["cause"]["hold_until"] == note["hold_until"]

    call(world, EXTEND)  # a second extension counts from the pushed limit
    assert _note(store)["hold_until"] == "2026-03-03T08:00:00+00:00"
    assert len(_note(store)["extensions"]) == 2


def test_extending_a_hold_past_its_limit_counts_from_now(world, monkeypatch):
    import mlcycle.breaker.operators as operators

    store, _, _ = world
    monkeypatch.setattr(operators, "now", lambda: dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC))
    _hold(store)
    call(world, EXTEND)
    assert _note(store)["hold_until"] == "2026-03-05T21:00:00+00:00"


def test_extending_the_hold_of_a_batch_that_is_not_held_changes_nothing(world):
    store, _, _ = world
    result = call(world, EXTEND)
    assert result["effects"] == ["refused: batch b3 is not held (or is published already)"]
    assert log_of(store) == [] and _note(store) is None
