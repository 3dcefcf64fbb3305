"""Where a batch stands: which sources are there, and since when; and, once held, why and
until when.

A batch is `incoming/<batch_id>/<source>.csv` for every configured source. It is
ready when all are there, whichever upload came last; one still missing a source
past the deadline is quarantined rather than waiting forever. A held batch waits in held/
with its note (held.json) until it is published or its hold limit passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Set
from dataclasses import dataclass

from mlcycle import storage
from mlcycle.clock import now
from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.monitoring.rules import integrity_rules
from mlcycle.objectstore import ObjectStore
from mlcycle.storage import Buckets


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


def scan_incoming(
    store: ObjectStore, buckets: Buckets, scored: Set[str]
) -> tuple[list[str], list[str]]:
    """(batch ids with an upload and not in `scored`, keys that name no batch) under
    incoming/: what the rescan works through when S3 events were lost. Uploads that name no
    batch are objects directly under incoming/, in folders whose names are not batch ids, or
    nested deeper or not .csv inside a batch folder."""
    folders, invalid = store.list_level(buckets.data, storage.INCOMING)
    batches = []
    for folder in folders:
        if storage.BATCH_ID.match(folder) and folder in scored:
            continue
        keys = [o["Key"] for o in store.list(buckets.data, storage.incoming_prefix(folder))]
        valid = [k for k in keys if storage.parse_incoming_key(k)]
        invalid += [k for k in keys if k not in valid]
        if valid:
            batches.append(folder)
    return sorted(batches), invalid


@dataclass(frozen=True)
class HeldBatch:
    """A batch in held/ that is not published, with its note: why it is held, since when,
    an operator's extension of its limit or release order."""

    batch_id: str
    note: dict

    @property
    def held_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.note["held_at"])

    def limit(self, max_hold_hours: float) -> dt.datetime:
        """When the hold limit passes: `max_hold_hours` after the hold, unless an operator
        moved it (`hold_until`)."""
        until = self.note.get("hold_until")
        if until:
            return dt.datetime.fromisoformat(until)
        return self.held_at + dt.timedelta(hours=max_hold_hours)

    @property
    def integrity_rules(self) -> list[str]:
        """The integrity rules its input broke (the gate's trips, or its breaches on
        probation): such a batch waits for corrected inputs, whatever the fallback."""
        trips = (self.note.get("gate") or {}).get("trips") or []
        breached = [b.get("rule") for b in self.note.get("breaches") or [] if b.get("rule")]
        return integrity_rules([*trips, *breached])

    @property
    def decided(self) -> bool:
        """Whether something beyond the breaker decided its fate: labels confirmed it, an
        operator released it, or its input broke an integrity rule."""
        note = self.note
        return bool(note.get("confirmed") or note.get("release") or self.integrity_rules)

    @property
    def awaiting_labels(self) -> bool:
        """Held for its first labels (its inputs drifted), and not decided yet."""
        return bool(self.note.get("awaiting_labels")) and not self.decided


def _moved_to_held(store: ObjectStore, buckets: Buckets, batch_id: str) -> HeldBatch | None:
    """The batch with its note if its move into held/ finished, published or not."""
    note, _ = store.get_json(buckets.data, storage.held_note_key(batch_id))
    if note is None or not note.get("complete", True) or "held_at" not in note:
        return None
    return HeldBatch(batch_id, note)


def held_batch(store: ObjectStore, buckets: Buckets, batch_id: str) -> HeldBatch | None:
    """The batch if it is held (its move finished) and not published, else None."""
    held = _moved_to_held(store, buckets, batch_id)
    if held is None or store.exists(buckets.predictions, storage.success_key(batch_id)):
        return None
    return held


def change_held_note(
    store: ObjectStore, buckets: Buckets, batch_id: str, change: Callable[[dict], dict]
) -> dict:
    """Change a held batch's note under the ETag it was read with (infer moves and re-holds
    batches and writes the same note)."""

    def apply(note: dict | None) -> dict:
        if note is None:
            raise MLCycleError(f"batch {batch_id} is no longer held")
        return change(note)

    return store.update_json(buckets.data, storage.held_note_key(batch_id), apply)


def held_batches(
    store: ObjectStore, buckets: Buckets, listed: tuple[Set[str], list[str]] | None = None
) -> list[HeldBatch]:
    """Every batch held and not published. A published batch keeps its held/ folder, so the
    published ones are known from one listing and only the others' notes are read: infer's
    sweeps would otherwise read two objects for every batch ever held. `listed`: the published
    batches and the held/ folders, when the caller has just listed them."""
    published, folders = listed or held_listings(store, buckets)
    found = (_moved_to_held(store, buckets, b) for b in folders if b not in published)
    return [held for held in found if held is not None]


def held_listings(store: ObjectStore, buckets: Buckets) -> tuple[set[str], list[str]]:
    """(published batch ids, held/ folders): the two listings `held_batches` reads."""
    return (
        storage.published_batches(store, buckets.predictions),
        storage.batch_folders(store, buckets.data, storage.HELD),
    )
