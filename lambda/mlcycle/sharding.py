"""A batch too large for one invocation, scored by parallel invocations of the infer function.

The invocation that holds the batch's lease plans shards (byte ranges of the target's source
cut at record boundaries, shard_plan.py), writes the plan once (a conditional create) and
invokes the function asynchronously once per shard: Lambda's concurrency is the engine. Each
shard scores its range into its own part file and records a result once (a conditional
create): its rows, counts, the gate's statistics and where its key hashes are. When every
shard has reported, or one has failed, whoever sees it first under the batch's lease
finishes the batch (shard_finish.py). Re-delivered events, retries and the rescan meet the
same plan (its id is the input revision's), so each shard and the batch finish once.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import IO, cast

from mlcycle import fields as check
from mlcycle import storage
from mlcycle.attribute_files import DiskAttributes
from mlcycle.claims import lease
from mlcycle.clock import now, now_iso
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError, EventError, ModelIntegrityError
from mlcycle.heap import frozen_heap
from mlcycle.invoke import invoke_async
from mlcycle.keyspill import spill_dir
from mlcycle.logs import get_logger, log
from mlcycle.objectstore import MultipartWriter, ObjectStore, PreconditionFailed
from mlcycle.output import PredictionWriter
from mlcycle.plugin import Plugin
from mlcycle.publication_gate import Screen
from mlcycle.registry import ModelRegistry
from mlcycle.revisions import InputsChanged, pinned
from mlcycle.scoring_steps import (
    Timings,
    already,
    published_manifest,
    read_inputs_of,
    score_chunks,
)
from mlcycle.shard_finish import finish
from mlcycle.shard_plan import plan_shards
from mlcycle.sources import SourceReader
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.sharding")
PLAN_ID = re.compile(r"^[0-9a-f]{16}$")
SELF = "AWS_LAMBDA_FUNCTION_NAME"
FINISH_ATTEMPTS, FINISH_WAIT_S = 30, 1.0  # set by Lambda: a shard is an invocation of this function


def shard_bytes() -> int:
    """A target file larger than this is sharded, in shards about this long (0: never)."""
    return int(os.environ.get("MLCYCLE_SHARD_BYTES", "0"))


def max_shards() -> int:
    return int(os.environ.get("MLCYCLE_MAX_SHARDS", "100"))


def deadline_seconds() -> float:
    """How long after planning a shard that has not reported fails the batch."""
    return float(os.environ.get("MLCYCLE_SHARD_DEADLINE_S", "1800"))


@dataclass(frozen=True)
class ScoreShard:
    """{"action": "score_shard", "batch_id": ..., "plan": ..., "shard": n}: one shard's work,
    sent by the invocation that planned the batch."""

    batch_id: str
    plan: str
    shard: int


def parse_shard_event(event: object) -> ScoreShard | None:
    """The shard request, strictly checked; None for any other event."""
    if not (isinstance(event, dict) and event.get("action") == "score_shard"):
        return None
    where = "infer event (score_shard)"
    fields = check.fields(event, where, {"action": str, "batch_id": str, "plan": str, "shard": int})
    plan = check.required(fields, "plan", where)
    if not PLAN_ID.match(plan):
        raise EventError(where, "plan", f"a plan id matching {PLAN_ID.pattern}", plan)
    return ScoreShard(
        check.batch_id(check.required(fields, "batch_id", where), where),
        plan,
        check.count(fields, "shard", where, 0, 9999),
    )


def plan_id(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def sharded(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    prefix: str,
    version: str,
    inputs: dict,
    probation: bool = False,
    then: dict | None = None,
) -> dict | None:
    """Under the batch's lease: plan and dispatch the shards, or advance a plan already made.
    None when the batch is small enough for this invocation.

    A probation run (a held batch re-scored by a candidate, or one that came in during
    probation) is the candidate's own plan: after a refuted candidate the next one scores
    the same revision afresh. `then`: an infer event the batch's last shard sends when the
    batch is scored, for a caller whose work continues from the scored batch (a forced
    release, the hold limit's fallback), since it returned at planning."""
    limit = shard_bytes()
    if not limit:  # sharding off: not even a look for a plan
        return None
    pid = plan_id({"inputs": inputs, "probation_of": version} if probation else inputs)
    plan, _ = store.get_json(buckets.predictions, storage.shard_plan_key(batch_id, pid))
    if plan is not None:
        return finish(cfg, plugin, store, buckets, plan, deadline_seconds())
    reader = pinned(store, buckets, inputs)
    key = storage.source_key(prefix, cfg.input_spec.name)
    size = reader.size(buckets.data, key)
    if size <= limit:
        return None
    header_end, shards = plan_shards(
        reader.open(buckets.data, key), size, max(limit, -(-size // max_shards()))
    )
    if len(shards) < 2:
        return None
    with frozen_heap():
        shared, notes, violations = _share_attributes(
            cfg, reader, store, buckets, batch_id, pid, prefix
        )
    plan = {
        "batch_id": batch_id,
        "plan_id": pid,
        "input_prefix": prefix,
        "inputs": inputs,
        "model_version": version,
        "probation": probation,
        "header_end": header_end,
        "shards": [s.to_json() for s in shards],
        "attributes": shared,
        "attribute_notes": notes,
        "attribute_violations": violations,
        "planned_at": now_iso(),
        "deadline": (now().timestamp() + deadline_seconds()),
        "then": then,
    }
    try:
        store.put_json(
            buckets.predictions, storage.shard_plan_key(batch_id, pid), plan, if_none_match=True
        )
    except PreconditionFailed:  # planned by a concurrent delivery: it dispatches
        return {"status": "in_progress", "batch_id": batch_id}
    for shard in shards:
        invoke_async(
            SELF, {"action": "score_shard", "batch_id": batch_id, "plan": pid, "shard": shard.index}
        )
    log(logger, "batch sharded", batch_id=batch_id, shards=len(shards), bytes=size)
    return {"status": "sharded", "batch_id": batch_id, "plan": pid, "shards": len(shards)}


class _HeaderThen(io.RawIOBase):
    """The file's header line, then the shard's byte range: a CSV of its own."""

    def __init__(self, header: bytes, body: IO[bytes]):
        super().__init__()
        self.header, self.body = header, body

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.header:
            n = len(self.header) if size is None or size < 0 else size
            out, self.header = self.header[:n], self.header[n:]
            return out
        return self.body.read() if size is None or size < 0 else self.body.read(size)


def score_shard(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    pid: str,
    index: int,
) -> dict:
    """Score one shard of a planned batch, record its result once, and finish the batch when
    this was the last shard to report (or a failure)."""
    plan, _ = store.get_json(buckets.predictions, storage.shard_plan_key(batch_id, pid))
    if plan is None or not 0 <= index < len(plan["shards"]):
        return {"status": "no_plan", "batch_id": batch_id, "plan": pid, "shard": index}
    probation = plan.get("probation", False)
    done = published_manifest(store, buckets, batch_id, probation)
    if done:  # a retry or re-delivery after the batch was published (the continuation too:
        # the run that finished may have stopped before sending it; it is safe to repeat)
        _continue(plan)
        return already(batch_id, done)
    key = storage.source_key(plan["input_prefix"], cfg.input_spec.name)
    if not store.exists(buckets.data, key):  # refused or held meanwhile: nothing to score
        return {"status": "finished", "batch_id": batch_id, "plan": pid, "shard": index}
    result_key = storage.shard_result_key(batch_id, pid, index)
    lease_key = storage.shard_lease_key(batch_id, pid, index)
    with lease(store, buckets.predictions, lease_key) as mine:
        if not mine:
            return {"status": "in_progress", "batch_id": batch_id, "shard": index}
        if not store.exists(buckets.predictions, result_key):
            result = _scored(cfg, plugin, store, buckets, plan, index)
            try:
                store.put_json(buckets.predictions, result_key, result, if_none_match=True)
            except PreconditionFailed:
                pass  # recorded by a run whose lease was taken over: the first result stands
    scored = {"status": "shard_scored", "batch_id": batch_id, "shard": index}
    # Two shards reporting at once: the one holding the batch's lease may have looked before
    # the other's result was there, while the other found the lease taken. So a shard that
    # finds the lease taken, or sees every result only after its own look, tries again.
    for _ in range(FINISH_ATTEMPTS):
        with lease(store, buckets.predictions, storage.lease_key(batch_id, probation)) as mine:
            if mine:
                done = finish(cfg, plugin, store, buckets, plan, deadline_seconds())
                if done["status"] == "published":
                    _continue(plan)
                if done["status"] != "in_progress":
                    return done
                if not _all_reported(store, buckets, plan):
                    return {**scored, **done, "status": "shard_scored"}
                continue
        time.sleep(FINISH_WAIT_S)
    return scored  # the holder finishes, or the hourly rescan does


def _continue(plan: dict) -> None:
    if plan.get("then"):
        invoke_async(SELF, plan["then"])


def _all_reported(store: ObjectStore, buckets: Buckets, plan: dict) -> bool:
    prefix = storage.shards_prefix(plan["batch_id"], plan["plan_id"])
    reported = [k["Key"] for k in store.list(buckets.predictions, prefix + "result-")]
    return len(reported) == len(plan["shards"])


def _scored(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, plan: dict, index: int
) -> dict:
    """The shard's result: scored, failed (the batch is refused with its reason) or
    inputs_changed (a newer upload has its own plan)."""
    try:
        with frozen_heap():
            return _score_range(cfg, plugin, store, buckets, plan, index)
    except DataContractError as exc:
        return {"status": "failed", "kind": "contract", "reason": exc.as_dict()}
    except ModelIntegrityError as exc:
        return {"status": "failed", "kind": "model", "reason": str(exc)}
    except (PreconditionFailed, InputsChanged) as exc:
        return {"status": "inputs_changed", "reason": str(exc)}


def _score_range(
    cfg: ModelConfig, plugin: Plugin, store: ObjectStore, buckets: Buckets, plan: dict, index: int
) -> dict:
    batch_id, pid, version = plan["batch_id"], plan["plan_id"], plan["model_version"]
    shard = plan["shards"][index]
    registry = ModelRegistry(store, buckets.models, cfg.name)
    model = registry.load(version)
    screen = Screen.open(cfg, plugin, model, registry.metadata(version), store, buckets, version)
    inputs = pinned(store, buckets, plan["inputs"])
    if plan["attributes"] is None:
        attributes, notes, violations = read_inputs_of(cfg, inputs, buckets, plan["input_prefix"])
    else:
        notes, violations = plan["attribute_notes"], plan["attribute_violations"]
        attributes = [_fetch_attributes(store, buckets, doc) for doc in plan["attributes"]]
    key = storage.source_key(plan["input_prefix"], cfg.input_spec.name)
    header = inputs.open(buckets.data, key, 0, plan["header_end"]).read()
    reader = SourceReader(
        cast(
            IO[bytes],
            _HeaderThen(header, inputs.open(buckets.data, key, shard["start"], shard["end"])),
        ),
        cfg.input_spec,
        f"s3://{buckets.data}/{key}",
        cfg.join_key,
        cfg.chunk_rows,
        first_row=shard["rows_before"],
        whole_file=False,
    )
    part = storage.shard_part_key(batch_id, pid, index)
    sink = MultipartWriter(store, buckets.predictions, part)
    writer = PredictionWriter(batch_id, version, cfg)
    try:
        tally = score_chunks(
            cfg, plugin, model, screen, reader, attributes, sink, writer, Timings()
        )
        size = sink.complete()
        keys = [
            _upload_keys(
                store, buckets, reader, name, storage.shard_keys_key(batch_id, pid, index, j)
            )
            for j, name in enumerate(reader.spills)
        ]
    except BaseException:
        sink.abort()
        raise
    finally:
        for attr in attributes:
            attr.close()
        for spill in reader.spills.values():
            spill.close()
    return {
        "status": "scored",
        "rows": tally.rows,
        "labels": tally.labels,
        "matched": tally.matched,
        "part": part,
        "bytes": size,
        "keys": keys,
        "attribute_notes": notes,
        "attribute_violations": violations,
        "notes": reader.summary.notes,
        "violations": reader.summary.violations,
        "utc_converted": reader.summary.utc_converted,
        "non_null": reader.non_null,
        "confidence_metrics": writer.has_proba,
        "statistics": screen.stats.to_json() if screen else None,
    }


def _upload_keys(
    store: ObjectStore, buckets: Buckets, reader: SourceReader, column: str, key: str
) -> dict:
    """A shard's spilled key hashes as one object (in partition order), for the final check."""
    _upload(store, buckets.predictions, reader.spills[column].paths(), key)
    return {"column": column, "key": key}


def _share_attributes(
    cfg: ModelConfig,
    reader: ObjectStore,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    pid: str,
    prefix: str,
) -> tuple[list[dict] | None, list[str], dict[str, int]]:
    """Read and index the attribute sources once, for every shard: an index on disk is
    uploaded beside the plan (each shard would otherwise read the whole file again; at 100M
    hotel rows that is minutes per shard). Small sources, held in memory, each shard reads
    itself (None). Their notes and soft violations go into the plan."""
    attributes, notes, violations = read_inputs_of(cfg, reader, buckets, prefix)
    try:
        if not all(isinstance(a, DiskAttributes) for a in attributes):
            return None, notes, violations
        shared = []
        for i, index in enumerate(attributes):
            assert isinstance(index, DiskAttributes)
            keys = {}
            for file in index.files():
                keys[file] = storage.shard_attribute_key(batch_id, pid, i, file)
                _upload(store, buckets.predictions, [index.path(file)], keys[file])
            shared.append({**index.describe(), "keys": keys})
        return shared, notes, violations
    finally:
        for index in attributes:
            index.close()


def _fetch_attributes(store: ObjectStore, buckets: Buckets, doc: dict) -> DiskAttributes:
    folder = tempfile.mkdtemp(prefix="attributes-", dir=spill_dir())
    try:
        for file, key in doc["keys"].items():
            body = store.open(buckets.predictions, key)
            with open(os.path.join(folder, f"{file}.sorted"), "wb") as out:
                while block := body.read(MultipartWriter.PART_BYTES):
                    out.write(block)
        return DiskAttributes.attached(doc, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _upload(store: ObjectStore, bucket: str, paths: list[str], key: str) -> None:
    """Local files, one after the other, as one object."""
    sink = MultipartWriter(store, bucket, key, "application/octet-stream")
    try:
        for path in paths:
            with open(path, "rb") as f:
                while block := f.read(MultipartWriter.PART_BYTES):
                    sink.write(block)
        sink.complete()
    except BaseException:
        sink.abort()
        raise
