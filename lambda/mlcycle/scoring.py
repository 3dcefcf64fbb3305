"""Batch inference: chunked, idempotent, published atomically.

predictions.csv is streamed as a multipart upload, so memory stays flat whatever the
batch size, and nothing appears under the key until the upload completes. The
`_SUCCESS` manifest is written last: consumers trust a batch only when it exists.
A data-contract failure in any chunk aborts the upload and quarantines the batch.
"""

from __future__ import annotations

import time

from mlcycle import revisions, storage
from mlcycle.claims import lease
from mlcycle.clock import now_iso
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError, ModelIntegrityError
from mlcycle.first_labels import AwaitingLabels, awaits_labels, wait_for_labels
from mlcycle.heap import frozen_heap
from mlcycle.logs import bound, get_logger, log
from mlcycle.moves import hold, quarantine
from mlcycle.objectstore import MultipartWriter, ObjectStore, PreconditionFailed
from mlcycle.output import PredictionWriter
from mlcycle.plugin import Plugin
from mlcycle.publication_gate import Screen, Withheld, withhold
from mlcycle.registry import ModelRegistry
from mlcycle.revisions import InputsChanged
from mlcycle.scoring_steps import (
    Timings,
    already,
    manifest_of,
    publish,
    published_manifest,
    read_inputs_of,
    score_chunks,
)
from mlcycle.sharding import sharded
from mlcycle.sources import open_source
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.scoring")


def score_batch(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    input_prefix: str | None = None,
    probation: bool = False,
    version: str | None = None,
    then: dict | None = None,
) -> dict:
    """Score one complete batch with the champion (or `version`) and publish it, once.

    Returns a JSON-able summary whose `status` is published, already_published, in_progress
    (a duplicate delivery while another invocation scores it), quarantined (bad input, or a
    changed re-upload after publication), held (the model failed its integrity check),
    inputs_changed (re-uploaded while being scored: the new upload triggers its own run)
    or no_model. A batch the gate stops before publication is held (status held, with the
    verdicts under `gate`). A batch large enough to be sharded answers sharded; `then` is the
    infer event its last shard sends once the batch is scored (sharding.py).
    """
    storage.check_batch_id(batch_id)
    prefix = input_prefix or storage.incoming_prefix(batch_id)
    done = published_manifest(store, buckets, batch_id, probation)
    if done:  # a re-delivered event, or a re-upload: the published revision stands
        refused = None
        if prefix == storage.incoming_prefix(batch_id):
            refused = revisions.refuse_reupload(store, buckets, cfg, batch_id, done)
        return refused or already(batch_id, done)
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
            return already(batch_id, done)
        try:
            inputs = revisions.fingerprint(store, buckets, cfg, prefix)
            split = sharded(
                cfg, plugin, store, buckets, batch_id, prefix, version, inputs, probation, then
            )
            if split is not None:
                return split
            reader = revisions.pinned(store, buckets, inputs)
            with frozen_heap():
                return _score(
                    cfg,
                    plugin,
                    reader,
                    buckets,
                    batch_id,
                    prefix,
                    probation,
                    version,
                    registry,
                    inputs,
                )
        except DataContractError as exc:
            log(logger, "batch rejected", level=40, reason=exc.as_dict())
            return quarantine(
                store, buckets, batch_id, exc.as_dict(), stage="inference", from_prefix=prefix
            )
        except Withheld as exc:
            return withhold(cfg, store, buckets, batch_id, prefix, version, exc.result)
        except AwaitingLabels as exc:
            return wait_for_labels(store, buckets, batch_id, prefix, version, exc.result, exc.rows)
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
            if not gate["trips"] and awaits_labels(cfg, store, buckets, batch_id, prefix, gate):
                raise AwaitingLabels(gate, screen.stats.rows)
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
