"""Turn an inference trigger into batch work: which batches, and what happens to each.

Three triggers reach the infer function: an S3 upload under incoming/, the hourly
rescan (scores every complete, unscored batch and quarantines batches stuck past
their deadline), and a direct `{"batch_id": ...}` request.
"""
from __future__ import annotations

import urllib.parse

from mlcycle import storage
from mlcycle.batches import batch_status, hold, incoming_batches, past_deadline, quarantine
from mlcycle.breaker import HALF_OPEN, OPEN, read_state
from mlcycle.config import ModelConfig
from mlcycle.logs import get_logger, log
from mlcycle.plugin import Plugin
from mlcycle.scoring import published_manifest, score_batch
from mlcycle.storage import Buckets, ObjectStore

logger = get_logger("mlcycle.dispatch")


def batches_in_event(event: dict) -> tuple[str, list[str]]:
    """(trigger kind, batch ids) for an S3 notification, a schedule or a direct request."""
    if event.get("Records"):
        ids = []
        for record in event["Records"]:
            key = urllib.parse.unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
            parsed = storage.parse_incoming_key(key)
            if parsed and parsed[0] not in ids:
                ids.append(parsed[0])
        return "s3", ids
    if event.get("batch_id"):
        return "request", [storage.check_batch_id(str(event["batch_id"]))]
    if event.get("source") == "aws.events" or event.get("action") == "rescan":
        return "rescan", []
    if event.get("action") == "score_held":
        return "score_held", []
    raise ValueError(f"unrecognised inference event (keys {sorted(event)}): expected an S3 notification, "
                     "a scheduled event or {\"batch_id\": ...}")


def process_batch(cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, batch_id: str,
                  gate=None) -> dict:
    """Score the batch if it is complete; `gate(batch_id)` may divert it (the breaker holds it)."""
    status = batch_status(store, buckets, cfg, batch_id)
    if not status.complete:
        if status.present and past_deadline(status, cfg):
            missing = [storage.incoming_key(batch_id, s) for s in status.missing]
            reason = {"file": ", ".join(missing), "column": None, "rule": "all sources within the deadline",
                      "detail": f"missing source(s) {status.missing} {cfg.batch_deadline_minutes:g} minutes after the first upload",
                      "message": f"{', '.join(missing)}: missing past the {cfg.batch_deadline_minutes:g}-minute deadline"}
            quarantine(store, buckets, batch_id, reason, stage="inference")
            return {"status": "quarantined", "batch_id": batch_id, "error": reason["message"], "reason": reason}
        return {"status": "waiting", "batch_id": batch_id, "missing": status.missing}
    if gate:
        diverted = gate(batch_id)
        if diverted:
            return diverted
    return score_batch(cfg, plugin, store, buckets, batch_id)


def breaker_gate(cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets):
    """OPEN: park the batch in held/. HALF_OPEN: score it on probation. CLOSED: no diversion."""
    state, _ = read_state(store, buckets.monitoring)
    mode = state["state"]

    def gate(batch_id: str) -> dict | None:
        if mode == OPEN:
            held = hold(store, buckets, batch_id, f"breaker OPEN since {state.get('since')}: {state.get('cause')}")
            log(logger, "batch held: breaker open", batch_id=batch_id)
            return {"status": "held", "batch_id": batch_id, "files": held["files"]}
        if mode == HALF_OPEN:
            return score_batch(cfg, plugin, store, buckets, batch_id, probation=True)
        return None

    return gate


def score_held(cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, probation: bool) -> list[dict]:
    """Score every held batch from held/ (on probation, or straight to publication after a close).

    Batches the breaker rejected on probation stay held: their input is what was wrong.
    """
    state, _ = read_state(store, buckets.monitoring)
    rejected = set(state.get("rejected") or {})
    results = []
    for batch_id in sorted(store.list_folders(buckets.data, "held/")):
        if batch_id in rejected or published_manifest(store, buckets, batch_id, probation):
            continue
        results.append(score_batch(cfg, plugin, store, buckets, batch_id, input_prefix=storage.held_prefix(batch_id),
                                   probation=probation))
    return results


def handle_event(cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, event: dict) -> dict:
    trigger, ids = batches_in_event(event)
    if trigger == "score_held":
        results = score_held(cfg, plugin, store, buckets, probation=bool(event.get("probation", True)))
        return _summary(trigger, results)
    if trigger == "rescan":
        ids = [b for b in incoming_batches(store, buckets) if not published_manifest(store, buckets, b)]
    gate = breaker_gate(cfg, plugin, store, buckets)
    return _summary(trigger, [process_batch(cfg, plugin, store, buckets, b, gate) for b in ids])


def _summary(trigger: str, results: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    log(logger, "inference trigger handled", trigger=trigger, counts=counts)
    return {"trigger": trigger, "counts": counts, "results": results}
