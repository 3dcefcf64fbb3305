"""What infer does with held batches besides re-scoring them after a recovery: an operator's
release, a batch its first labels confirmed (``first_labels``), and the fallback once a batch
has waited past its hold limit.

A forced release and the fallback may publish over a gate that tripped, so both score the
batch as probation output (which the gate judges without withholding it) and publish that
output with a mark in the manifest saying who or what decided it. Neither ever publishes with
anything but the champion, and the fallback never publishes a batch whose input broke an
integrity rule, nor one whose drifted inputs still wait for their first labels (scored, it
waits again), nor while the breaker state is unknown: those stay held and page the operators
(HeldTooLong).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial

from mlcycle import storage
from mlcycle.batches import HeldBatch, held_batch, held_batches, held_listings
from mlcycle.breaker.effects import (
    publish_from_probation,
    report_held_too_long,
    unpublished_probation,
)
from mlcycle.breaker.policy import PUBLISH
from mlcycle.breaker.state import CLOSED, UNKNOWN, read_state
from mlcycle.clock import now
from mlcycle.config import ModelConfig
from mlcycle.events import ReleaseHeld, SweepHolds
from mlcycle.failures import isolated
from mlcycle.logs import get_logger, log
from mlcycle.monitoring.rules import integrity_rules
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin
from mlcycle.registry import ModelRegistry
from mlcycle.scoring import score_batch
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.breaker.holds")
SCORED = ("published", "already_published")


def publish_held(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    mark: str,
    decision: dict,
    over_integrity: bool,
    then: dict,
) -> dict:
    """Score a held batch with the champion and publish it whatever the gate says, with the
    ``decision`` under ``mark`` in the manifest; a gate trip on an integrity rule stops it
    unless ``over_integrity``. A batch large enough to be sharded answers sharded: its last
    shard sends ``then``, the infer event that repeats this call, which finds it scored."""
    scored = score_batch(
        cfg,
        plugin,
        store,
        buckets,
        batch_id,
        storage.held_prefix(batch_id),
        probation=True,
        then=then,
    )
    if scored["status"] not in SCORED:
        return scored
    output, _ = store.get_json(buckets.predictions, storage.success_key(batch_id, probation=True))
    if output is None:  # published meanwhile: the probation check found the published manifest
        return scored
    champion = ModelRegistry(store, buckets.models, cfg.name).champion()
    if output["model_version"] != champion:
        return _kept(
            batch_id,
            f"scored on probation by {output['model_version']}, not by the champion {champion}",
        )
    trips = (output.get("gate") or {}).get("trips") or []
    broken = integrity_rules(trips)
    if broken and not over_integrity:
        return {
            **_kept(batch_id, f"its input broke {broken}: held for corrected inputs"),
            "integrity": broken,
        }
    marks = {mark: {**decision, "gate_trips": trips}}
    published = publish_from_probation(store, buckets, batch_id, marks)
    if published is None:
        return {"status": "already_published", "batch_id": batch_id}
    log(logger, "held batch published", batch_id=batch_id, model_version=champion, marks=marks)
    return {"status": "published", **published}


def _kept(batch_id: str, why: str) -> dict:
    return {"status": "held", "batch_id": batch_id, "reason": why}


def release(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, batch_id: str
) -> dict:
    """Carry out the release order the breaker wrote into the batch's note: through the gate
    (a trip holds it again and reaches the breaker), or over it when forced."""
    held = held_batch(store, buckets, batch_id)
    order = held.note.get("release") if held else None
    if not isinstance(order, dict):
        return _kept(
            batch_id,
            "no release order: a held, unpublished batch is released through the breaker "
            'function ({"action": "release", ...})',
        )
    prefix = storage.held_prefix(batch_id)
    if order.get("force"):
        again = ReleaseHeld(batch_id).payload()
        work = partial(
            publish_held, cfg, plugin, store, buckets, batch_id, "release", order, True, again
        )
    else:
        work = partial(score_batch, cfg, plugin, store, buckets, batch_id, prefix)
    return isolated(cfg, store, buckets, batch_id, prefix, work)


@dataclass(frozen=True)
class Waiting:
    """One look at what waits: the published batches, the held/ folders, and the notes of the
    held batches not published."""

    published: set[str]
    folders: list[str]
    held: list[HeldBatch]


def waiting(store: ObjectStore, buckets: Buckets) -> Waiting:
    published, folders = held_listings(store, buckets)
    return Waiting(published, folders, held_batches(store, buckets, (published, folders)))


def publish_confirmed(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    looked: Waiting | None = None,
) -> list[dict]:
    """Score and publish, through the gate, the held batches their first labels confirmed;
    only while the breaker is CLOSED (an OPEN one scores every held batch when it closes).
    `looked`: what waits, when the caller has just looked."""
    if read_state(store, buckets.monitoring)[0]["state"] != CLOSED:
        return []
    results = []
    for held in (looked or waiting(store, buckets)).held:
        if not held.note.get("confirmed") or held.integrity_rules:
            continue
        prefix = storage.held_prefix(held.batch_id)
        work = partial(score_batch, cfg, plugin, store, buckets, held.batch_id, prefix)
        results.append(isolated(cfg, store, buckets, held.batch_id, prefix, work))
    return results


def _why_not_publish(cfg: ModelConfig, state: dict, held: HeldBatch) -> str | None:
    """Why the publish fallback does not apply to this batch (it pages instead), or None."""
    if cfg.breaker.hold_fallback != PUBLISH:
        return f"breaker.hold_fallback is {cfg.breaker.hold_fallback}"
    if state["state"] == UNKNOWN:
        return f"breaker state unknown: {state['problem']}"
    if held.integrity_rules:
        return f"its input broke {held.integrity_rules}: held for corrected inputs"
    return None


def _waiting_on_probation(
    store: ObjectStore,
    buckets: Buckets,
    state: dict,
    at: dt.datetime,
    hours: float,
    looked: Waiting,
) -> list[dict]:
    """Batches scored on probation from incoming/ (so not in held/) and still unpublished past
    the hold limit: they page like held batches; a verdict or an operator publishes them.
    Whatever the state: after a close, a batch may wait for its labelled verdict, and a batch a
    refuted candidate was still scoring when it was refuted keeps that candidate's output.
    `looked`: its published batches and held/ folders are passed by."""
    version = (state.get("probation") or {}).get("model_version")
    found = []
    for batch_id, output, unreadable in unpublished_probation(
        store, buckets, set(looked.folders), looked.published
    ):
        if output is not None:
            try:
                limit = dt.datetime.fromisoformat(output["published_at"])
            except (ValueError, KeyError, TypeError) as exc:
                unreadable = str(exc)
            else:
                limit += dt.timedelta(hours=hours)
                scored_by = output.get("model_version")
                if at > limit:
                    reason = (
                        f"on probation: awaiting the verdict on {version}"
                        if scored_by == version
                        else f"on probation: scored by {scored_by}, no longer the candidate"
                    )
                    found.append(_paged(batch_id, limit, reason))
        if unreadable is not None:
            # A manifest nobody can read pages now: one broken object must not stop the sweep.
            found.append(_paged(batch_id, None, f"probation manifest unreadable: {unreadable}"))
    return found


def _paged(batch_id: str, limit: dt.datetime | None, reason: str | None) -> dict:
    return {
        "status": "held_too_long",
        "batch_id": batch_id,
        "hold_limit": None if limit is None else limit.isoformat(),
        "reason": reason,
    }


def sweep(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    at: dt.datetime | None = None,
    looked: Waiting | None = None,
) -> list[dict]:
    """Apply the fallback to every batch held past its limit; one result per such batch.
    `looked`: what waits, when the caller has just looked and published nothing since.

    Safe to repeat: a published batch is no longer held, and one that stays held is paged
    again at the next sweep.
    """
    at = at or now()
    hours = cfg.breaker.max_hold_hours
    # Held batches and batches waiting on probation are found in one look: nothing is
    # published in between.
    looked = looked or waiting(store, buckets)
    overdue = [h for h in looked.held if at > h.limit(hours)]
    state, _ = read_state(store, buckets.monitoring)
    results = _waiting_on_probation(store, buckets, state, at, hours, looked)
    for held in overdue:
        why = _why_not_publish(cfg, state, held)
        if why is None:
            flag = {
                "policy": PUBLISH,
                "reason": f"held past its limit ({hours:g} h, breaker.max_hold_hours)",
                "held_at": held.note["held_at"],
                "hold_limit": held.limit(hours).isoformat(),
                "held_because": held.note.get("reason"),
            }
            work = partial(
                publish_held,
                cfg,
                plugin,
                store,
                buckets,
                held.batch_id,
                "fallback",
                flag,
                False,
                SweepHolds().payload(),
            )
            result = isolated(
                cfg, store, buckets, held.batch_id, storage.held_prefix(held.batch_id), work
            )
            if result["status"] != "held":
                results.append(result)
                continue
            why = result.get("reason") or result.get("error")
        results.append(_paged(held.batch_id, held.limit(hours), why))
    paged = [r["batch_id"] for r in results if r["status"] == "held_too_long"]
    if paged:
        report_held_too_long(cfg.name, paged)
    return results
