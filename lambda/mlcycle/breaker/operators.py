"""Operators' recovery actions on the breaker function: roll back to the previous champion,
release a held batch, extend a hold. Each is one line in the event log (with its reason and
actor), and each is refused, changing nothing, while the state is unknown: an operator
repairs it first.
"""

from __future__ import annotations

import datetime as dt

from mlcycle.batches import HeldBatch, change_held_note, held_batch
from mlcycle.breaker.effects import AwsBreakerActions
from mlcycle.breaker.ledger import Transition
from mlcycle.breaker.machine import Breaker
from mlcycle.breaker.operator_payloads import ExtendHold, Release, Rollback
from mlcycle.breaker.state import HALF_OPEN, OPEN, UNKNOWN
from mlcycle.clock import now, now_iso
from mlcycle.config import ModelConfig
from mlcycle.objectstore import ObjectStore
from mlcycle.registry import Decision, ModelRegistry
from mlcycle.storage import Buckets


def refused(state: dict, why: str) -> Transition:
    return Transition(False, state, effects=[f"refused: {why}"])


def _blocked(state: dict) -> str | None:
    if state["state"] == UNKNOWN:
        return f"breaker state unknown ({state['problem']}): repair it first"
    return None


def rollback(breaker: Breaker, registry: ModelRegistry, event: Rollback) -> Transition:
    """`previous` becomes the champion again (the old champion becomes `previous`). While
    OPEN, the rolled-back model starts probation as a retrained one would; while a candidate
    is on probation, its verdict decides first."""
    state, _ = breaker.read()
    blocked = _blocked(state)
    if blocked:
        return refused(state, blocked)
    if state["state"] == HALF_OPEN:
        return refused(
            state,
            f"{state['probation'].get('model_version')} is on probation: wait for its verdict, "
            "or open the breaker first",
        )
    aliases, _ = registry.aliases()
    champion, previous = aliases.get("champion"), aliases.get("previous")
    if not previous:
        return refused(state, "the model store names no previous champion")

    def decide(current: str | None) -> Decision:
        if current != champion:
            return Decision(False, f"the champion changed meanwhile (now {current})")
        return Decision(True, f"rollback by {event.actor}: {event.reason}")

    decision = registry.promote(previous, decide, actor=event.actor)
    if not decision.promote:
        return refused(state, decision.reason)
    cause = {
        "reason": event.reason,
        "manual": True,
        "action": "rollback",
        "from_version": champion,
        "to_version": previous,
    }
    result = breaker.record(cause, event.actor)
    result.effects = [f"champion {champion} -> {previous}"]
    if state["state"] == OPEN:
        probation = breaker.model_promoted(previous, event.actor, "rolled back to previous")
        result.state = probation.state
        result.effects += probation.effects
    return result


def _held(
    breaker: Breaker, store: ObjectStore, buckets: Buckets, batch_id: str
) -> tuple[dict, HeldBatch | None, str | None]:
    """(state, the held batch, why the action is refused)."""
    state, _ = breaker.read()
    held = held_batch(store, buckets, batch_id)
    why = _blocked(state) or (
        None if held else f"batch {batch_id} is not held (or is published already)"
    )
    return state, held, why


def release(
    breaker: Breaker,
    actions: AwsBreakerActions,
    store: ObjectStore,
    buckets: Buckets,
    event: Release,
) -> Transition:
    """Write the release order into the batch's note (infer carries out only orders found
    there: nobody publishes a held batch past the gate without a line in this log), log it,
    and ask infer to score and publish the batch."""
    state, _, why = _held(breaker, store, buckets, event.batch_id)
    if why:
        return refused(state, why)
    order = {"actor": event.actor, "reason": event.reason, "force": event.force, "at": now_iso()}
    change_held_note(store, buckets, event.batch_id, lambda note: {**note, "release": order})
    cause = {
        "reason": event.reason,
        "manual": True,
        "action": "release",
        "batch_id": event.batch_id,
        "force": event.force,
    }
    result = breaker.record(cause, event.actor)
    actions.release_held(event.batch_id)
    gate = "over the gate (flagged in the manifest)" if event.force else "through the gate"
    result.effects = [
        f"infer asked to score {event.batch_id} with the champion and publish it {gate}"
    ]
    return result


def extend_hold(
    cfg: ModelConfig, breaker: Breaker, store: ObjectStore, buckets: Buckets, event: ExtendHold
) -> Transition:
    """Move the batch's hold limit ``hours`` later (from now, when it has passed already)."""
    state, held, why = _held(breaker, store, buckets, event.batch_id)
    if why or held is None:
        return refused(state, str(why))
    limit = max(held.limit(cfg.breaker.max_hold_hours), now())
    until = (limit + dt.timedelta(hours=event.hours)).isoformat()
    extension = {
        "hours": event.hours,
        "until": until,
        "actor": event.actor,
        "reason": event.reason,
        "at": now_iso(),
    }
    change_held_note(
        store,
        buckets,
        event.batch_id,
        lambda note: {
            **note,
            "hold_until": until,
            "extensions": [*(note.get("extensions") or []), extension],
        },
    )
    cause = {
        "reason": event.reason,
        "manual": True,
        "action": "extend_hold",
        "batch_id": event.batch_id,
        "hours": event.hours,
        "hold_until": until,
    }
    result = breaker.record(cause, event.actor)
    result.effects = [f"{event.batch_id} held until {until}"]
    return result
