"""Where a batch stands, and moving it: incoming -> held / quarantine.

A batch is `incoming/<batch_id>/<source>.csv` for every configured source. It is
ready when all are there, whichever upload came last; one still missing a source
past the deadline is quarantined rather than waiting forever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mlcycle import storage
from mlcycle.clock import now, now_iso
from mlcycle.config import ModelConfig
from mlcycle.storage import Buckets, ObjectStore, PreconditionFailed


@dataclass
class BatchStatus:
    batch_id: str
    present: list[str]
    missing: list[str]
    oldest_upload: dt.datetime | None

    @property
    def complete(self) -> bool:
        return not self.missing


def batch_status(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, batch_id: str
) -> BatchStatus:
    objects = {o["Key"]: o for o in store.list(buckets.data, storage.incoming_prefix(batch_id))}
    present: list[str] = []
    missing: list[str] = []
    times: list[dt.datetime] = []
    for source in cfg.sources:
        obj = objects.get(storage.incoming_key(batch_id, source.name))
        (present if obj else missing).append(source.name)
        if obj:
            times.append(obj["LastModified"])
    return BatchStatus(batch_id, present, missing, min(times) if times else None)


def incoming_batches(store: ObjectStore, buckets: Buckets) -> list[str]:
    return storage.batch_folders(store, buckets.data, storage.INCOMING)


def inputs_prefix(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, prefixes: list[str]
) -> str | None:
    """The first of `prefixes` that holds every source of the batch, or None."""
    for prefix in prefixes:
        if all(store.exists(buckets.data, storage.source_key(prefix, s.name)) for s in cfg.sources):
            return prefix
    return None


def past_deadline(status: BatchStatus, cfg: ModelConfig, at: dt.datetime | None = None) -> bool:
    if status.complete or status.oldest_upload is None:
        return False
    return (at or now()) - status.oldest_upload > dt.timedelta(minutes=cfg.batch_deadline_minutes)


def quarantine(
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    reason: dict,
    stage: str,
    from_prefix: str | None = None,
    to_prefix: str | None = None,
) -> dict:
    """Move the batch's inputs aside with a reason.json: rejected input is kept, never dropped.
    Returns the `quarantined` result a function reports.

    Safe to repeat and to race: the move skips what another mover took, and the first
    reason written stands.
    """
    source = from_prefix or storage.incoming_prefix(batch_id)
    target = to_prefix or storage.quarantine_prefix(batch_id)
    moved = store.move_prefix(buckets.data, source, target)
    doc = {
        "batch_id": batch_id,
        "stage": stage,
        "reason": reason,
        "files": moved,
        "quarantined_at": now_iso(),
    }
    try:
        store.put_json(buckets.data, storage.reason_key(target), doc, if_none_match=True)
    except PreconditionFailed:
        pass  # quarantined already (a duplicate delivery): the first reason stands
    return {
        "status": "quarantined",
        "batch_id": batch_id,
        "error": reason["message"],
        "reason": reason,
        "files": moved,
    }


def hold(store: ObjectStore, buckets: Buckets, batch_id: str, why: str) -> dict:
    """Park the batch under held/ while the breaker is open; it is scored after recovery."""
    moved = store.move_prefix(
        buckets.data, storage.incoming_prefix(batch_id), storage.held_prefix(batch_id)
    )
    doc = {"batch_id": batch_id, "reason": why, "files": moved, "held_at": now_iso()}
    store.put_json(buckets.data, storage.held_note_key(batch_id), doc)
    return doc


def set_aside_invalid(store: ObjectStore, buckets: Buckets, key: str) -> dict:
    """Move an upload under incoming/ that names no valid batch to quarantine, with a reason:
    reported and kept, never silently ignored."""
    target = storage.invalid_upload_key(key)
    reason = {
        "file": f"s3://{buckets.data}/{key}",
        "column": None,
        "rule": "incoming/<batch_id>/<source>.csv",
        "detail": f"the key names no batch: batch ids match {storage.BATCH_ID.pattern} and "
        "sources are <source>.csv directly inside the batch folder",
        "message": f"{key}: not a valid batch upload (moved to {target})",
    }
    store.move(buckets.data, key, target)
    doc = {"reason": reason, "files": [target], "quarantined_at": now_iso()}
    try:
        store.put_json(
            buckets.data, storage.invalid_upload_reason_key(key), doc, if_none_match=True
        )
    except PreconditionFailed:
        pass
    return {"status": "quarantined", "key": key, "error": reason["message"], "reason": reason}


def invalid_incoming_keys(store: ObjectStore, buckets: Buckets) -> list[str]:
    """Objects in incoming/ folders whose names are not batch ids (the rescan reports them)."""
    bad = [
        f
        for f in store.list_folders(buckets.data, storage.INCOMING)
        if not storage.BATCH_ID.match(f)
    ]
    return [o["Key"] for f in bad for o in store.list(buckets.data, f"{storage.INCOMING}{f}/")]
