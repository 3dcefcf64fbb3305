"""The last step of a sharded batch: one verdict on all of it, then one _SUCCESS or none.

Called under the batch's lease. A shard that failed refuses the batch with its reason (bad
input: quarantined; an untrusted model: held); a shard that has not reported by the plan's
deadline refuses it the same way. Otherwise the rules only the whole file can answer run
across the shards (rows at all, no all-empty column, no key given twice: the shards' key
hashes are spilled again and checked a partition at a time), the gate judges the shards'
statistics added together, and one manifest lists every part in order.
"""

from __future__ import annotations

import numpy as np

from mlcycle import storage
from mlcycle.clock import now, now_iso
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError
from mlcycle.first_labels import awaits_labels, wait_for_labels
from mlcycle.keyspill import ROWS, KeySpill
from mlcycle.monitoring.batchstats import BatchStats
from mlcycle.moves import hold, quarantine
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin
from mlcycle.publication_gate import Screen, withhold
from mlcycle.registry import ModelRegistry
from mlcycle.scoring_steps import Tally, already, manifest_of, publish, published_manifest
from mlcycle.sources import check_file, utc_note
from mlcycle.storage import Buckets

READ_BYTES = ROWS.itemsize * 1024 * 1024


def finish(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    plan: dict,
    deadline_s: float,
) -> dict:
    batch_id, pid, prefix = plan["batch_id"], plan["plan_id"], plan["input_prefix"]
    done = published_manifest(store, buckets, batch_id, plan.get("probation", False))
    if done:
        return already(batch_id, done)
    key = storage.source_key(prefix, cfg.input_spec.name)
    if not store.exists(buckets.data, key):  # refused already, or moved by the breaker
        return {"status": "finished", "batch_id": batch_id, "plan": pid}
    file = f"s3://{buckets.data}/{key}"
    results = [
        store.get_json(buckets.predictions, storage.shard_result_key(batch_id, pid, i))[0]
        for i in range(len(plan["shards"]))
    ]
    failed = [(i, r) for i, r in enumerate(results) if r and r["status"] == "failed"]
    if failed:
        index, result = failed[0]
        _discard(store, buckets, plan)
        if result["kind"] == "model":
            # The input is fine, the model is not: keep the batch for a trusted model.
            if prefix == storage.incoming_prefix(batch_id):
                hold(store, buckets, batch_id, f"model integrity: {result['reason']}")
            return {"status": "held", "batch_id": batch_id, "error": result["reason"]}
        return _refuse(store, buckets, plan, {**result["reason"], "shard": index})
    if any(r and r["status"] == "inputs_changed" for r in results):
        _discard(store, buckets, plan)
        return {"status": "inputs_changed", "batch_id": batch_id, "plan": pid}
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        if now().timestamp() <= plan["deadline"]:
            return {"status": "in_progress", "batch_id": batch_id, "waiting_for": missing[:20]}
        _discard(store, buckets, plan)
        detail = (
            f"shard(s) {missing[:20]} of {len(results)} did not report within "
            f"{deadline_s:g} s of planning"
        )
        reason = {
            "file": file,
            "column": None,
            "rule": "every shard reports within the deadline",
            "detail": detail,
            "message": f"{file}: {detail}",
        }
        return _refuse(store, buckets, plan, reason)
    return _publish(cfg, plugin, store, buckets, plan, [r for r in results if r], file)


def _publish(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    plan: dict,
    results: list[dict],
    file: str,
) -> dict:
    batch_id, version = plan["batch_id"], plan["model_version"]
    probation = plan.get("probation", False)
    try:
        _check_whole_file(store, buckets, results, file)
    except DataContractError as exc:
        _discard(store, buckets, plan)
        return _refuse(store, buckets, plan, exc.as_dict())
    tally = Tally(dict.fromkeys(cfg.classes, 0), dict.fromkeys(results[0]["matched"], 0))
    violations = dict(results[0]["attribute_violations"])  # every shard read the same sources
    notes = list(results[0]["attribute_notes"])
    utc: dict[str, int] = {}
    stats: BatchStats | None = None
    for r in results:
        tally.rows += r["rows"]
        for name, count in r["labels"].items():
            tally.labels[name] = tally.labels.get(name, 0) + count
        for name, count in r["matched"].items():
            tally.matched[name] += count
        for rule, count in r["violations"].items():
            violations[rule] = violations.get(rule, 0) + count
        for column, count in r["utc_converted"].items():
            utc[column] = utc.get(column, 0) + count
        notes += [n for n in r["notes"] if n not in notes]
        if r["statistics"] is not None:
            part = BatchStats.from_json(r["statistics"])
            stats = part if stats is None else stats.merge(part)
    notes += [utc_note(file, column, count) for column, count in utc.items()]
    registry = ModelRegistry(store, buckets.models, cfg.name)
    screen = Screen.open(cfg, plugin, None, registry.metadata(version), store, buckets, version)
    gate = None
    if screen is not None and stats is not None:
        screen.stats = stats
        gate = screen.verdict(batch_id, sum(violations.values()))
        if gate["trips"] and not probation:  # on probation the breaker judges the verdicts
            _discard(store, buckets, plan)
            return withhold(cfg, store, buckets, batch_id, plan["input_prefix"], version, gate)
        prefix = plan["input_prefix"]
        if not gate["trips"] and awaits_labels(cfg, store, buckets, batch_id, prefix, gate):
            _discard(store, buckets, plan)
            return wait_for_labels(store, buckets, batch_id, prefix, version, gate, stats.rows)
    manifest = manifest_of(
        cfg,
        batch_id,
        version,
        probation,
        plan["input_prefix"],
        plan["inputs"],
        tally,
        violations,
        notes,
        all(r["confidence_metrics"] for r in results),
        gate,
        stats,
    )
    manifest.update(
        parts=[r["part"] for r in results],
        bytes=sum(r["bytes"] for r in results),
        shards={"plan": plan["plan_id"], "count": len(results), "planned_at": plan["planned_at"]},
        published_at=now_iso(),
    )
    published = publish(store, buckets, batch_id, probation, manifest)
    _discard(store, buckets, plan, keep_parts=True)
    return published


def _check_whole_file(store: ObjectStore, buckets: Buckets, results: list[dict], file: str) -> None:
    non_null: dict[str, int] = {}
    for r in results:
        for column, count in r["non_null"].items():
            non_null[column] = non_null.get(column, 0) + count
    spills = {k["column"]: KeySpill() for k in results[0]["keys"]}
    try:
        for r in results:
            for k in r["keys"]:
                _respill(store, buckets.predictions, k["key"], spills[k["column"]])
        check_file(file, sum(r["rows"] for r in results), non_null, spills)
    finally:
        for spill in spills.values():
            spill.close()


def _respill(store: ObjectStore, bucket: str, key: str, spill: KeySpill) -> None:
    """A shard's key hashes into the batch-wide spill, a bounded piece at a time."""
    body, rest = store.open(bucket, key), b""
    while block := body.read(READ_BYTES):
        data = rest + block
        whole = len(data) - len(data) % ROWS.itemsize
        spill.add(np.frombuffer(data[:whole], dtype=ROWS))
        rest = data[whole:]


def _refuse(store: ObjectStore, buckets: Buckets, plan: dict, reason: dict) -> dict:
    return quarantine(
        store,
        buckets,
        plan["batch_id"],
        reason,
        stage="inference",
        from_prefix=plan["input_prefix"],
    )


def _discard(store: ObjectStore, buckets: Buckets, plan: dict, keep_parts: bool = False) -> None:
    """Remove the plan's work files: key hashes and results; the parts too unless published."""
    prefix = storage.shards_prefix(plan["batch_id"], plan["plan_id"])
    for item in list(store.list(buckets.predictions, prefix)):
        key = item["Key"]
        if key.endswith(".bin") or (not keep_parts and key.endswith(".csv")):
            store.delete(buckets.predictions, key)
