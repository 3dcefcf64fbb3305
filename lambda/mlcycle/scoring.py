"""Batch inference: chunked, idempotent, published atomically.

predictions.csv is streamed as a multipart upload, so memory stays flat whatever the
batch size, and nothing appears under the key until the upload completes. The
`_SUCCESS` manifest is written last: consumers trust a batch only when it exists.
A data-contract failure in any chunk aborts the upload and quarantines the batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mlcycle import revisions, storage
from mlcycle.attributes import join, read_attributes
from mlcycle.claims import lease
from mlcycle.clock import now_iso
from mlcycle.config import ModelConfig
from mlcycle.contract import CheckedFrame
from mlcycle.datasets import feature_frame
from mlcycle.errors import DataContractError, ModelIntegrityError
from mlcycle.logs import bound, get_logger, log
from mlcycle.monitoring.batchstats import BatchStats
from mlcycle.moves import hold, quarantine
from mlcycle.objectstore import MultipartWriter, ObjectStore, PreconditionFailed
from mlcycle.output import PredictionWriter
from mlcycle.plugin import Plugin
from mlcycle.prefetch import ahead
from mlcycle.publication_gate import Screen, Withheld, summary, withhold
from mlcycle.registry import ModelRegistry
from mlcycle.revisions import InputsChanged
from mlcycle.sources import open_source
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.scoring")


@dataclass
class Timings:
    seconds: dict[str, float] = field(
        default_factory=lambda: {
            "read_validate": 0.0,
            "join": 0.0,
            "predict": 0.0,
            "gate": 0.0,
            "write": 0.0,
        }
    )

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


def published_manifest(
    store: ObjectStore, buckets: Buckets, batch_id: str, probation: bool = False
) -> dict | None:
    """The batch's _SUCCESS manifest (published, or in probation when asked), if any."""
    for key in [storage.success_key(batch_id)] + (
        [storage.success_key(batch_id, True)] if probation else []
    ):
        doc, _ = store.get_json(buckets.predictions, key)
        if doc:
            return doc
    return None


def score_batch(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    input_prefix: str | None = None,
    probation: bool = False,
    version: str | None = None,
) -> dict:
    """Score one complete batch with the champion (or `version`) and publish it, once.

    Returns a JSON-able summary whose `status` is published, already_published, in_progress
    (a duplicate delivery while another invocation scores it), quarantined (bad input, or a
    changed re-upload after publication), held (the model failed its integrity check),
    inputs_changed (re-uploaded while being scored: the new upload triggers its own run)
    or no_model. A batch the gate stops before publication is held (status held, with the
    verdicts under `gate`).
    """
    storage.check_batch_id(batch_id)
    prefix = input_prefix or storage.incoming_prefix(batch_id)
    done = published_manifest(store, buckets, batch_id, probation)
    if done:  # a re-delivered event, or a re-upload: the published revision stands
        refused = None
        if prefix == storage.incoming_prefix(batch_id):
            refused = revisions.refuse_reupload(store, buckets, cfg, batch_id, done)
        return refused or _already(batch_id, done)
    registry = ModelRegistry(store, buckets.models, cfg.name)
    version = version or registry.champion()
    if version is None:
        return {
            "status": "no_model",
            "batch_id": batch_id,
            "reason": f"model {cfg.name} has no champion yet; batch waits",
        }
    lease_key = storage.lease_key(batch_id, probation)
    with (
        bound(batch_id=batch_id, model_version=version),
        lease(store, buckets.predictions, lease_key) as mine,
    ):
        if not mine:
            return {"status": "in_progress", "batch_id": batch_id}
        done = published_manifest(store, buckets, batch_id, probation)
        if done:  # published while this delivery waited for the lease
            return _already(batch_id, done)
        try:
            inputs = revisions.fingerprint(store, buckets, cfg, prefix)
            reader = revisions.pinned(store, buckets, inputs)
            return _score(
                cfg, plugin, reader, buckets, batch_id, prefix, probation, version, registry, inputs
            )
        except DataContractError as exc:
            log(logger, "batch rejected", level=40, reason=exc.as_dict())
            return quarantine(
                store, buckets, batch_id, exc.as_dict(), stage="inference", from_prefix=prefix
            )
        except Withheld as exc:
            return withhold(cfg, store, buckets, batch_id, prefix, version, exc.result)
        except ModelIntegrityError as exc:
            # The input is fine, the model is not: keep the batch for a trusted model.
            if prefix == storage.incoming_prefix(batch_id):
                hold(store, buckets, batch_id, f"model integrity: {exc}")
            return {"status": "held", "batch_id": batch_id, "error": str(exc)}
        except (PreconditionFailed, InputsChanged) as exc:
            log(
                logger,
                "inputs changed while scoring; the new upload is scored on its own",
                level=30,
                error=str(exc),
            )
            return {"status": "inputs_changed", "batch_id": batch_id, "error": str(exc)}


def _already(batch_id: str, manifest: dict) -> dict:
    return {
        "status": "already_published",
        "batch_id": batch_id,
        "model_version": manifest.get("model_version"),
    }


@dataclass
class Tally:
    """What scoring a stream of chunks counted."""

    labels: dict[str, int]
    matched: dict[str, int]
    rows: int = 0


def read_inputs_of(
    cfg: ModelConfig, store: ObjectStore, buckets: Buckets, prefix: str
) -> tuple[list, list[str], dict[str, int]]:
    """The batch's attribute sources indexed for the join, their notes and soft violations."""
    attributes, summaries = read_attributes(store, buckets.data, prefix, cfg)
    notes = [note for s in summaries for note in s.notes]
    violations = {rule: count for s in summaries for rule, count in s.violations.items()}
    return attributes, notes, violations


def score_chunks(
    cfg: ModelConfig,
    plugin: Plugin,
    model: object,
    screen: Screen | None,
    chunks: Iterable[CheckedFrame],
    attributes: list,
    sink: MultipartWriter,
    writer: PredictionWriter,
    timings: Timings,
) -> Tally:
    """Join, predict, count and write each chunk; the next chunk is read meanwhile."""
    tally = Tally(dict.fromkeys(cfg.classes, 0), {a.name: 0 for a in attributes})
    sink.write(writer.header())
    tick = time.perf_counter()
    for checked in ahead(chunks):
        tick = timings.add("read_validate", tick)
        joined, coverage = join(
            checked.frame, attributes, cfg.join_key, checked.hashes(cfg.join_key)
        )
        for name, share in coverage.items():
            tally.matched[name] += int(round(share * len(joined)))
        tick = timings.add("join", tick)
        features = feature_frame(joined, cfg)
        predictions = plugin.predict(model, features)
        tick = timings.add("predict", tick)
        if screen is not None:
            screen.add(features, predictions, coverage)
            tick = timings.add("gate", tick)
        sink.write(writer.rows(joined[cfg.join_key].to_numpy(), predictions))
        for label, count in zip(
            *np.unique(predictions.labels.astype(str), return_counts=True), strict=True
        ):
            tally.labels[label] = tally.labels.get(label, 0) + int(count)
        tally.rows += len(joined)
        tick = timings.add("write", tick)
    return tally


def manifest_of(
    cfg: ModelConfig,
    batch_id: str,
    version: str,
    probation: bool,
    prefix: str,
    inputs: dict,
    tally: Tally,
    violations: dict[str, int],
    notes: list[str],
    has_proba: bool,
    gate: dict | None,
    stats: BatchStats | None,
) -> dict:
    """The _SUCCESS manifest's fields common to a single run and a sharded one."""
    rows = tally.rows
    coverage = {name: (count / rows if rows else 0.0) for name, count in tally.matched.items()}
    return {
        "batch_id": batch_id,
        "model_name": cfg.name,
        "model_version": version,
        "rows": rows,
        "probation": probation,
        "join_coverage": coverage,
        "join_coverage_min": min(coverage.values(), default=1.0),
        "predicted_counts": tally.labels,
        "schema_violations": violations,
        "notes": notes,
        "input_prefix": prefix,
        "inputs": inputs,
        "confidence_metrics": has_proba,
        "gate": summary(gate) if gate else None,
        "warnings": gate["warnings"] if gate else [],
        "statistics": stats.to_json() if stats else None,
    }


def publish(
    store: ObjectStore, buckets: Buckets, batch_id: str, probation: bool, manifest: dict
) -> dict:
    """Write _SUCCESS, once: a conditional create, the last write of a batch."""
    try:
        store.put_json(
            buckets.predictions,
            storage.success_key(batch_id, probation),
            manifest,
            if_none_match=True,
        )
    except PreconditionFailed:  # a lease taken over from a run presumed dead: it won
        return _already(batch_id, published_manifest(store, buckets, batch_id, probation) or {})
    log(
        logger,
        "batch published",
        rows=manifest["rows"],
        parts=manifest.get("parts") or [manifest.get("predictions_key")],
        join_coverage=manifest["join_coverage"],
        probation=probation,
    )
    return {"status": "published", **manifest}


def _score(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    prefix: str,
    probation: bool,
    version: str,
    registry: ModelRegistry,
    inputs: dict,
) -> dict:
    started = time.perf_counter()
    timings = Timings()
    model = registry.load(version)
    screen = Screen.open(cfg, plugin, model, registry.metadata(version), store, buckets, version)
    tick = time.perf_counter()
    attributes, notes, violations = read_inputs_of(cfg, store, buckets, prefix)
    tick = timings.add("read_validate", tick)
    reader = open_source(
        store, buckets.data, storage.source_key(prefix, cfg.input_spec.name), cfg.input_spec, cfg
    )
    out_key = storage.predictions_key(batch_id, probation)
    sink = MultipartWriter(store, buckets.predictions, out_key)
    writer = PredictionWriter(batch_id, version, cfg)
    try:
        tally = score_chunks(cfg, plugin, model, screen, reader, attributes, sink, writer, timings)
        tick = time.perf_counter()
        notes += reader.summary.notes
        for rule, count in reader.summary.violations.items():
            violations[rule] = violations.get(rule, 0) + count
        gate = None
        if screen is not None:
            gate = screen.verdict(batch_id, sum(violations.values()))
            tick = timings.add("gate", tick)
            if gate["trips"] and not probation:
                raise Withheld(gate)
        size = sink.complete()
    except BaseException:
        sink.abort()  # nothing half-written stays behind under the predictions key
        raise
    finally:
        for attr in attributes:
            attr.close()
    timings.add("write", tick)
    manifest = manifest_of(
        cfg,
        batch_id,
        version,
        probation,
        prefix,
        inputs,
        tally,
        violations,
        notes,
        writer.has_proba,
        gate,
        screen.stats if screen else None,
    )
    manifest.update(
        predictions_key=out_key,
        bytes=size,
        timings={k: round(v, 3) for k, v in timings.seconds.items()},
        seconds=round(time.perf_counter() - started, 3),
        published_at=now_iso(),
    )
    return publish(store, buckets, batch_id, probation, manifest)
