"""Infer stage: turn a trigger into batch work, which batches, and what happens to each.

Three triggers reach the infer function: an S3 upload under incoming/, the hourly
rescan (scores every complete, unscored batch, publishes the held batches their first labels
confirmed, quarantines batches stuck past their deadline and applies the fallback to batches
held past their limit), and a direct
`{"batch_id": ...}` request; the breaker adds "score the held batches" and an operator's
release of one held batch.
"""

from __future__ import annotations

from functools import partial

from mlcycle import events, storage
from mlcycle.batches import batch_status, past_deadline, scan_incoming
from mlcycle.breaker import holds
from mlcycle.breaker.gate import Diversion, inference_gate, score_held
from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.failures import isolated
from mlcycle.logs import get_logger, log
from mlcycle.moves import finish_interrupted, quarantine, set_aside_invalid
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin
from mlcycle.publication_gate import tripped
from mlcycle.scoring import score_batch
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.inference")


def process_batch(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    gate: Diversion | None = None,
) -> dict:
    """Score the batch if it is complete; `gate(batch_id)` may divert it (the breaker holds it)."""
    finished = finish_interrupted(store, buckets, batch_id)
    if finished:
        return finished
    status = batch_status(store, buckets, cfg, batch_id)
    if not status.complete:
        if status.present and past_deadline(status, cfg):
            missing = [storage.incoming_key(batch_id, s) for s in status.missing]
            reason = {
                "file": ", ".join(missing),
                "column": None,
                "rule": "all sources within the deadline",
                "detail": (
                    f"missing source(s) {status.missing} "
                    f"{cfg.batch_deadline_minutes:g} minutes after the first upload"
                ),
                "message": (
                    f"{', '.join(missing)}: "
                    f"missing past the {cfg.batch_deadline_minutes:g}-minute deadline"
                ),
            }
            return quarantine(store, buckets, batch_id, reason, stage="inference")
        return {"status": "waiting", "batch_id": batch_id, "missing": status.missing}
    if gate:
        diverted = gate(batch_id)
        if diverted:
            return diverted
    return score_batch(cfg, plugin, store, buckets, batch_id)


def _batches(
    event: events.InferEvent, store: ObjectStore, buckets: Buckets
) -> tuple[str, list[str], list[str]]:
    """(trigger kind, batch ids, invalid upload keys) for an S3 notification, a schedule or a
    direct request."""
    if isinstance(event, events.S3Notification):
        parsed = {key: storage.parse_incoming_key(key) for key in event.keys}
        ids = list(dict.fromkeys(p[0] for p in parsed.values() if p))
        invalid = [k for k, p in parsed.items() if p is None and k.startswith(storage.INCOMING)]
        return "s3", ids, invalid
    if isinstance(event, events.ScoreBatch):
        return "request", [event.batch_id], []
    unscored, invalid = scan_incoming(
        store, buckets, storage.published_batches(store, buckets.predictions)
    )
    return "rescan", unscored, invalid


class BatchFailed(MLCycleError):
    """A batch named by the event failed unexpectedly: the invocation fails so Lambda retries
    it (each failure is counted; the last allowed one quarantines the batch)."""


def handle(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, event: events.InferEvent
) -> dict:
    if isinstance(event, events.ScoreHeld):
        return _summary(
            "score_held", score_held(cfg, plugin, store, buckets, probation=event.probation)
        )
    if isinstance(event, events.SweepHolds):
        return _summary("sweep_holds", holds.sweep(cfg, plugin, store, buckets))
    if isinstance(event, events.ReleaseHeld):
        result = holds.release(cfg, plugin, store, buckets, event.batch_id)
        if result["status"] == "error":
            raise BatchFailed(f"release of {event.batch_id} failed: {result['error']}")
        return _summary("release", [result])
    trigger, ids, invalid = _batches(event, store, buckets)
    results = [set_aside_invalid(store, buckets, key) for key in invalid]
    gate = inference_gate(cfg, plugin, store, buckets)
    for batch_id in ids:
        prefix = storage.incoming_prefix(batch_id)
        result = isolated(
            cfg,
            store,
            buckets,
            batch_id,
            prefix,
            partial(process_batch, cfg, plugin, store, buckets, batch_id, gate),
        )
        results.append(result)
        if tripped(result):
            # This batch's trip may have opened the breaker: the batches after it must see that.
            gate = inference_gate(cfg, plugin, store, buckets)
    if trigger == "rescan":
        looked = holds.waiting(store, buckets)
        confirmed = holds.publish_confirmed(cfg, plugin, store, buckets, looked)
        results += confirmed
        # A batch it published (or tried to) waits no longer as looked: the sweep looks again.
        results += holds.sweep(cfg, plugin, store, buckets, looked=None if confirmed else looked)
    summary = _summary(trigger, results)
    failed = [r["batch_id"] for r in results if r["status"] == "error"]
    if failed and trigger != "rescan":
        raise BatchFailed(
            f"batch(es) {failed} failed: {[r['error'] for r in results if r['status'] == 'error']}"
        )
    return summary


def _summary(trigger: str, results: list[dict]) -> dict:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    log(logger, "inference trigger handled", trigger=trigger, counts=counts)
    return {"trigger": trigger, "counts": counts, "results": results}
