"""Which input revision a published batch was scored from, and holding everyone to it.

The manifest records every input object's ETag and version id. Later readers (the monitor,
training) read those exact objects, so inputs, predictions and labels of different
revisions are never paired; a changed re-upload after publication is set aside in
quarantine with a reason instead of being silently ignored or silently mixed in.
"""

from __future__ import annotations

import hashlib

from mlcycle import storage
from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.moves import quarantine
from mlcycle.objectstore import ObjectStore
from mlcycle.storage import Buckets


class InputsChanged(MLCycleError):
    """A batch's inputs are no longer the objects its predictions were made from."""


def fingerprint(store: ObjectStore, buckets: Buckets, cfg: ModelConfig, prefix: str) -> dict:
    """{source: {"key", "etag", "version_id"}} of the batch's inputs under `prefix` now."""
    found = {}
    for source in cfg.sources:
        key = storage.source_key(prefix, source.name)
        head = store.head(buckets.data, key)
        if head is None:
            raise InputsChanged(f"s3://{buckets.data}/{key} disappeared while the batch was scored")
        found[source.name] = {"key": key, **head}
    return found


def pinned(store: ObjectStore, buckets: Buckets, inputs: dict) -> ObjectStore:
    """A store that reads each recorded input object exactly (by version, else by ETag)."""
    return store.pinned({(buckets.data, i["key"]): i for i in inputs.values()})


def same_objects(recorded: dict, current: dict) -> bool:
    return all(
        current.get(source, {}).get("etag") == item["etag"] for source, item in recorded.items()
    )


def refuse_reupload(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, batch_id: str, manifest: dict
) -> dict | None:
    """After publication: None when the inputs under incoming/ are the published ones (a
    re-delivered event), else the result of moving the changed upload to quarantine."""
    prefix = storage.incoming_prefix(batch_id)
    current = {
        s.name: store.head(buckets.data, storage.source_key(prefix, s.name)) or {}
        for s in cfg.sources
    }
    recorded = manifest.get("inputs") or {}
    # No record (published before revisions were recorded): a re-delivery cannot be told from
    # a change, so the inputs stay where they are.
    if not recorded or not any(current.values()) or same_objects(recorded, current):
        return None
    tag = hashlib.sha256(repr(sorted(current.items())).encode()).hexdigest()[:12]
    reason = {
        "file": f"s3://{buckets.data}/{prefix}",
        "column": None,
        "rule": "one revision per published batch",
        "detail": "the inputs were uploaded again with other content after the batch was "
        f"published with model {manifest.get('model_version')}; the published revision stands",
        "message": f"{prefix}: changed re-upload after publication (kept in quarantine)",
    }
    return quarantine(
        store,
        buckets,
        batch_id,
        reason,
        stage="inference",
        to_prefix=storage.reupload_prefix(batch_id, tag),
    )


def locate(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, manifest: dict
) -> tuple[ObjectStore, str]:
    """(store pinned to the published inputs, their folder) for reading a published batch.

    By version id where the bucket keeps versions (a later move or re-upload changes
    nothing); otherwise wherever objects with the recorded ETags are now (scored from, held,
    incoming). InputsChanged when they cannot be found, or when the manifest records no
    revision (published before revisions were recorded): never a guess.
    """
    inputs, batch_id = manifest.get("inputs"), manifest.get("batch_id", "?")
    if not inputs:
        raise InputsChanged(f"batch {batch_id}: the manifest records no input revision")
    if all(item.get("version_id") for item in inputs.values()):
        return pinned(store, buckets, inputs), manifest["input_prefix"]
    for prefix in dict.fromkeys(
        (manifest["input_prefix"], storage.held_prefix(batch_id), storage.incoming_prefix(batch_id))
    ):
        current = {
            s.name: store.head(buckets.data, storage.source_key(prefix, s.name)) or {}
            for s in cfg.sources
        }
        if same_objects(inputs, current):
            here = {
                s: {**item, "key": storage.source_key(prefix, s), "version_id": None}
                for s, item in inputs.items()
            }
            return pinned(store, buckets, here), prefix
    raise InputsChanged(f"batch {batch_id}: its published inputs are gone or were replaced")
