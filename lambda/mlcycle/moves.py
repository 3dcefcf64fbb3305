"""Moving a batch's inputs aside: incoming/ -> held/ (the breaker holds it) or quarantine/
(rejected, with a reason), and uploads that name no batch.

Every move is journaled: the note (held.json, reason.json) is written first with the objects
it is about to move and their ETags, then the objects move, then the note is marked
complete. A move interrupted half-way (a crash between two S3 calls) is finished by the
next trigger for the batch, and only for the objects the note named: a corrected upload
that came later is not swept along. Safe to repeat and to race: a concurrent mover that
took an object first has already put it where it belongs.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.clock import now_iso
from mlcycle.objectstore import ObjectStore, PreconditionFailed
from mlcycle.storage import Buckets


def _journaled_move(
    store: ObjectStore,
    bucket: str,
    src_prefix: str,
    dst_prefix: str,
    note_key: str,
    note: dict,
    pending: dict[str, str] | None = None,
    left: dict[str, str] | None = None,
) -> list[str]:
    """Move `pending` ({key: etag}; default: everything under src_prefix) with the journal;
    when finishing an interrupted move, only the `left` part of it still moves."""
    if pending is None:
        pending = {o["Key"]: o["ETag"] for o in store.list(bucket, src_prefix)}
    _, etag = store.get_with_etag(bucket, note_key)
    store.put_json(
        bucket,
        note_key,
        {**note, "pending": pending, "complete": False},
        if_match=etag,
        if_none_match=etag is None,
    )
    for key in pending if left is None else left:
        store.move(bucket, key, dst_prefix + key[len(src_prefix) :])
    moved = [dst_prefix + key[len(src_prefix) :] for key in pending]
    _, etag = store.get_with_etag(bucket, note_key)
    store.put_json(
        bucket,
        note_key,
        {**note, "pending": pending, "files": moved, "complete": True},
        if_match=etag,
        if_none_match=etag is None,
    )
    return moved


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
    Returns the `quarantined` result a function reports."""
    source = from_prefix or storage.incoming_prefix(batch_id)
    target = to_prefix or storage.quarantine_prefix(batch_id)
    note = {
        "batch_id": batch_id,
        "stage": stage,
        "reason": reason,
        "quarantined_at": now_iso(),
        "from": source,
    }
    try:
        moved = _journaled_move(
            store, buckets.data, source, target, storage.reason_key(target), note
        )
    except PreconditionFailed:  # a duplicate delivery is moving it right now: it finishes
        moved = []
    return {
        "status": "quarantined",
        "batch_id": batch_id,
        "error": reason["message"],
        "reason": reason,
        "files": moved,
    }


def hold(
    store: ObjectStore, buckets: Buckets, batch_id: str, why: str, details: dict | None = None
) -> dict:
    """Park the batch under held/ while the breaker is open; it is scored after recovery.

    ``details`` (the gate's verdicts, say) go into the note beside the reason."""
    note = {"batch_id": batch_id, "reason": why, "held_at": now_iso(), **(details or {})}
    try:
        moved = _journaled_move(
            store,
            buckets.data,
            storage.incoming_prefix(batch_id),
            storage.held_prefix(batch_id),
            storage.held_note_key(batch_id),
            note,
        )
    except PreconditionFailed:
        moved = []
    return {**note, "files": moved}


def finish_interrupted(store: ObjectStore, buckets: Buckets, batch_id: str) -> dict | None:
    """The result of finishing a hold or quarantine of this batch that a crash interrupted
    (only the objects its note named, still unchanged), or None when there is none."""
    incoming = storage.incoming_prefix(batch_id)
    for note_key, target, status in (
        (
            storage.quarantine_reason_key(batch_id),
            storage.quarantine_prefix(batch_id),
            "quarantined",
        ),
        (storage.held_note_key(batch_id), storage.held_prefix(batch_id), "held"),
    ):
        note, _ = store.get_json(buckets.data, note_key)
        if note is None or note.get("complete", True):
            continue
        source = note.get("from", incoming)
        pending = note.get("pending", {})
        left = {}
        for key, etag in pending.items():
            head = store.head(buckets.data, key)
            if head is not None and head["etag"] == etag:
                left[key] = etag
        unjournaled = {k: v for k, v in note.items() if k not in ("pending", "complete", "files")}
        moved = _journaled_move(
            store, buckets.data, source, target, note_key, unjournaled, pending, left
        )
        reason = note.get("reason")
        message = reason.get("message") if isinstance(reason, dict) else str(reason)
        return {
            "status": status,
            "batch_id": batch_id,
            "error": message,
            "reason": reason,
            "files": moved,
            "finished_interrupted_move": True,
        }
    return None


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
