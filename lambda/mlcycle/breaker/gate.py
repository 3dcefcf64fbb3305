"""What infer and train do under each breaker state.

Infer: CLOSED publishes; OPEN parks a complete batch in held/; HALF_OPEN scores it on
probation (not published until the breaker closes). Train: a scheduled run waits while a
model is on probation, and becomes a recovery run while the breaker is open. A promotion
while the breaker is not CLOSED starts probation: the breaker function owns that move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from mlcycle import storage
from mlcycle.batches import held_batch
from mlcycle.breaker import incident
from mlcycle.breaker.causes import named_rules, opened_for_inputs
from mlcycle.breaker.effects import report_unknown_state
from mlcycle.breaker.state import CLOSED, HALF_OPEN, OPEN, UNKNOWN, read_state
from mlcycle.config import ModelConfig
from mlcycle.events import TrainRequest
from mlcycle.failures import isolated
from mlcycle.invoke import invoke_async
from mlcycle.logs import get_logger, log
from mlcycle.monitoring.rules import performance_rules
from mlcycle.moves import hold
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin
from mlcycle.publication_gate import tripped
from mlcycle.scoring import published_manifest, score_batch
from mlcycle.storage import Buckets
from mlcycle.training_data import TrainingSet, batch_arrival
from mlcycle.window_store import read_window

logger = get_logger("mlcycle.breaker.gate")

Diversion = Callable[[str], dict | None]


def inference_gate(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets
) -> Diversion:
    """gate(batch_id) -> the batch's result when the breaker diverts it, None to publish.

    Only CLOSED publishes; any state but CLOSED and HALF_OPEN (OPEN, UNKNOWN) holds.
    """
    state, _ = read_state(store, buckets.monitoring)
    mode = state["state"]
    if mode == UNKNOWN:
        report_unknown_state(cfg.name, state)
        why = f"breaker state unknown: {state['problem']}"
    else:
        why = f"breaker {mode} since {state.get('since')}: {state.get('cause')}"

    def gate(batch_id: str) -> dict | None:
        if mode == CLOSED:
            return None
        if mode == HALF_OPEN:
            return score_batch(cfg, plugin, store, buckets, batch_id, probation=True)
        held = hold(store, buckets, batch_id, why)
        log(logger, "batch held", batch_id=batch_id, breaker=mode)
        return {"status": "held", "batch_id": batch_id, "files": held["files"]}

    return gate


def score_held(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, probation: bool
) -> list[dict]:
    """Score every held batch from held/ (on probation, or straight to publication after a close).

    Only while the state still asks for it (HALF_OPEN for probation, CLOSED to publish): the
    request may be stale by the time it runs. Batches the breaker rejected on probation
    stay held: their input is what was wrong; so do batches the gate held for an integrity
    breach, and batches waiting for their first labels (``first_labels``: a probation would
    publish them unjudged; once their labels confirm them the rescan publishes them).
    """
    state, _ = read_state(store, buckets.monitoring)
    if state["state"] != (HALF_OPEN if probation else CLOSED):
        log(
            logger,
            "held batches not scored: the breaker moved on",
            breaker=state["state"],
            probation=probation,
        )
        return []
    rejected = set(state.get("rejected") or {})
    results = []
    for batch_id in storage.batch_folders(store, buckets.data, storage.HELD):
        if batch_id in rejected or published_manifest(store, buckets, batch_id, probation):
            continue
        held = held_batch(store, buckets, batch_id)
        if held is not None and (held.integrity_rules or held.awaiting_labels):
            # Another model would meet the same broken input: it waits for corrected files;
            # a drifted one waits for the labels that tell a corruption from a real shift.
            continue
        prefix = storage.held_prefix(batch_id)
        result = isolated(
            cfg,
            store,
            buckets,
            batch_id,
            prefix,
            partial(score_batch, cfg, plugin, store, buckets, batch_id, prefix, probation),
        )
        results.append(result)
        if tripped(result) and read_state(store, buckets.monitoring)[0]["state"] != state["state"]:
            break  # its trip opened the breaker: the rest stay held
    return results


def training_plan(
    request: TrainRequest, cfg: ModelConfig, store: ObjectStore, buckets: Buckets
) -> TrainRequest | dict:
    """The run to do for this request under the current state, or a `deferred` result.

    Only an operator's forced run trains while a candidate is on probation: any other
    promotion would change the model under test (the breaker would judge one version's
    batches against another's probation)."""
    if request.force:
        return request
    state = read_state(store, buckets.monitoring)[0]
    mode = state["state"]
    if mode == HALF_OPEN:
        reason = f"breaker is HALF_OPEN: probation of {state.get('model_version')} decides"
        log(logger, "training deferred", reason=reason, scheduled=request.scheduled)
        return {"status": "deferred", "reason": reason}
    if not request.scheduled:
        return request
    if mode == UNKNOWN:
        report_unknown_state(cfg.name, state)
        return {"status": "deferred", "reason": f"breaker state unknown: {state['problem']}"}
    if mode == OPEN and not opened_for_inputs(state):
        # The breaker's own retrain did not pass the gate: try again, with newer labels.
        # (Opened for broken inputs, the run stays an ordinary one: the newest batches are the
        # suspect ones.)
        return replace(request, recovery=True, recent_batches=cfg.retrain_recent_batches)
    return request


def promotion_veto(
    cfg: ModelConfig, store: ObjectStore, buckets: Buckets
) -> Callable[[TrainingSet], str | None]:
    """Checked again at the moment of promotion, with the run's training set: a run planned
    while the breaker was OPEN must not promote once another candidate has started probation,
    nor on labels older than the batch whose labels showed the incident (`breaker.incident`)."""

    def veto(data: TrainingSet) -> str | None:
        state = read_state(store, buckets.monitoring)[0]
        if state["state"] == HALF_OPEN:
            return f"not promoted: {state.get('model_version')} is on probation"
        since = incident.labels_since(state)
        if since is None:
            return None
        entries = read_window(store, buckets.monitoring, cfg.name)["entries"]
        evidence = incident.evidence_batch(entries, since)
        if evidence is None:
            return None  # nothing to compare with: the gate decides as usual
        manifest = published_manifest(store, buckets, evidence, probation=True)
        shown = batch_arrival(store, buckets, evidence, manifest)
        return None if shown is None else incident.predates(data.newest_arrival, evidence, shown)

    return veto


def after_promotion(version: str, store: ObjectStore, buckets: Buckets) -> None:
    """Tell the breaker of a promotion unless it is CLOSED (then there is no probation to start)."""
    if read_state(store, buckets.monitoring)[0]["state"] != CLOSED:
        invoke_async("BREAKER_FUNCTION_NAME", {"action": "model_promoted", "version": version})


def champion_kept(summary: dict, store: ObjectStore, buckets: Buckets) -> None:
    """A recovery run whose candidates did not beat the champion on the newest labels: when a
    performance rule opened the breaker, the champion itself goes on probation (a probation
    that needs labels after a label-triggered trip), so the breaker closes on verdicts about
    the batches it holds instead of waiting for an operator, and a champion those verdicts
    refute opens it again. Opened by an operator or for broken inputs, it stays OPEN; so it
    does when this champion was the candidate last refuted: its held batches would refute it
    again (demo seed 6 went round four times in three days), and a later recovery with newer
    labels, or an operator, decides."""
    champion, candidates = summary.get("champion"), summary.get("candidates") or {}
    scored = (candidates.get("champion") or {}).get(candidates.get("metric", ""))
    if champion is None or scored is None:
        return  # nothing to put on probation, or a champion that could not be judged
    state = read_state(store, buckets.monitoring)[0]
    cause = state.get("cause") or {}
    if state["state"] != OPEN or cause.get("manual") or not performance_rules(named_rules(cause)):
        return
    if cause.get("candidate") == champion:
        log(
            logger,
            "champion kept, not put on probation again: its probation was refuted",
            model_version=champion,
            refuted_by=cause.get("batch_id"),
        )
        return
    invoke_async(
        "BREAKER_FUNCTION_NAME", {"action": "model_promoted", "version": champion, "kept": True}
    )
