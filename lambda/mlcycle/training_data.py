"""Assemble the training set: the training sources plus the labelled production batches.

The labelled batches are the Inference -> Training leg of the cycle: yesterday's
scored inputs, joined to the ground truth that arrived since, become today's
training rows. Each part is joined with its own attribute files, then stacked.
A batch whose inputs broke an integrity rule never trains (`mlcycle.integrity`): its
labels describe rows the model saw half-joined or corrupted. Which batches are read at all is
the run's window (`mlcycle.history_window`): its cost follows the window, not the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlcycle import read_cache, revisions, storage
from mlcycle.attributes import index_attributes, join
from mlcycle.batches import held_batch, inputs_prefix
from mlcycle.clock import stored_time
from mlcycle.config import ColumnSpec, ModelConfig, SourceSpec
from mlcycle.errors import DataContractError
from mlcycle.history_window import FULL_HISTORY, HistoryWindow, read_newest, within_days
from mlcycle.integrity import integrity_trips
from mlcycle.objectstore import ObjectStore
from mlcycle.revisions import InputsChanged
from mlcycle.scoring import published_manifest
from mlcycle.storage import Buckets
from mlcycle.verdicts import arrived_at


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    coverage: dict[str, float]
    parts: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)
    # Per row of `frame`, in a recovery: its labelled batch, 0 the newest; -1 the training
    # sources (and every row outside a recovery).
    recency: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    # The window's bounds and how many labelled batches it read and left unread.
    window: dict = field(default_factory=dict)
    # When the newest labelled batch trained on came in (its publication, or its hold).
    newest_arrival: dt.datetime | None = None


def _read(
    store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig, notes: list[str]
) -> pd.DataFrame:
    frame, found = read_cache.SOURCES.read(store, bucket, key, spec, cfg)
    notes += found
    return frame


def _read_source_files(
    store: ObjectStore, bucket: str, spec: SourceSpec, cfg: ModelConfig, notes: list[str]
) -> pd.DataFrame:
    keys = storage.training_keys(store, bucket, spec.name)
    if not keys:
        raise DataContractError(
            f"s3://{bucket}/{storage.training_prefix(spec.name)}",
            None,
            "training files present",
            f"no CSV file for source '{spec.name}'",
        )
    frame = pd.concat([_read(store, bucket, k, spec, cfg, notes) for k in keys], ignore_index=True)
    if len(keys) > 1 and spec.name != cfg.target_source.name:
        # Attribute files from several drops may repeat a key; the newest file's row wins.
        frame = frame.drop_duplicates(cfg.join_key, keep="last")
    return frame


def _joined(
    cfg: ModelConfig, base: pd.DataFrame, attrs: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, dict[str, float]]:
    indexed = [index_attributes(name, frame, cfg.join_key) for name, frame in attrs.items()]
    return join(base, indexed, cfg.join_key)


def _labels_spec(cfg: ModelConfig) -> SourceSpec:
    key = ColumnSpec(cfg.join_key, "string", unique=True)
    return SourceSpec("labels", (key, cfg.target_source.column(cfg.target)))


@dataclass
class _Batch:
    """One labelled batch as read: its joined rows, or None with the reason in `notes`."""

    batch_id: str
    frame: pd.DataFrame | None = None
    part: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    excluded: dict | None = None
    arrived_at: dt.datetime | None = None

    @property
    def rows(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def batch_arrival(
    store: ObjectStore, buckets: Buckets, batch_id: str, manifest: dict | None
) -> dt.datetime | None:
    """When the batch came in (``manifest``: its published or probation manifest, if any): its
    publication, or the time it was held for one scored from held/ or still waiting there."""
    if manifest is not None:
        try:
            return stored_time(arrived_at(store, buckets, manifest))
        except KeyError:
            # A manifest without its publication time (an older release's, one written by
            # hand) leaves the arrival unknown, not the run failed: the veto then compares the
            # newest arrival known, an older one, so it refuses more promotions, never fewer.
            return None
    held = held_batch(store, buckets, batch_id)
    return stored_time(held.note["held_at"]) if held is not None else None


def _labelled_batch(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, batch_id: str
) -> _Batch:
    """The batch's inputs joined to its labels. Read in parallel with others: it touches
    nothing shared and says everything in what it returns."""
    found = _Batch(batch_id)
    notes = found.notes
    # Labels pair with the inputs the batch was published from; a batch still held (breaker
    # open) has one revision only, the held one.
    manifest = published_manifest(store, buckets, batch_id, probation=True)
    reader, prefix = store, None
    if manifest is not None:
        try:
            reader, prefix = revisions.locate(store, buckets, cfg, manifest)
        except InputsChanged as exc:
            notes.append(f"{storage.labels_key(batch_id)}: {exc}; skipped")
            return found
    else:
        prefix = inputs_prefix(store, buckets, cfg, [storage.held_prefix(batch_id)])
    found.arrived_at = batch_arrival(store, buckets, batch_id, manifest)
    if prefix is None:
        notes.append(
            f"{storage.labels_key(batch_id)}: no published or held inputs "
            "(quarantined or deleted); skipped"
        )
        return found
    broken = integrity_trips(store, buckets, batch_id, prefix == storage.held_prefix(batch_id))
    if broken:
        said = "; ".join(f"{w}: {', '.join(rules)}" for w, rules in broken.items())
        notes.append(f"batch {batch_id}: excluded, its inputs are suspect ({said})")
        found.excluded = {"batch_id": batch_id, "integrity_trips": broken}
        return found
    cache = read_cache.SOURCES
    labels = cache.checked(
        store, buckets.data, storage.labels_key(batch_id), _labels_spec(cfg), cfg
    )
    base = cache.checked(
        reader, buckets.data, storage.source_key(prefix, cfg.input_spec.name), cfg.input_spec, cfg
    )
    attrs = {
        s.name: cache.checked(reader, buckets.data, storage.source_key(prefix, s.name), s, cfg)
        for s in cfg.attribute_sources
    }
    parts = (labels, base, *attrs.values())
    for part in parts:
        notes += part.notes

    def join() -> tuple[pd.DataFrame, dict[str, float]]:
        labelled = base.frame.merge(
            labels.frame[[cfg.join_key, cfg.target]], on=cfg.join_key, how="inner"
        )
        return _joined(cfg, labelled, {name: a.frame for name, a in attrs.items()})

    found.frame, coverage = cache.joined(("labelled batch", cfg.target), parts, join)
    found.part = {"part": f"batch {batch_id}", "rows": found.rows, "coverage": coverage}
    return found


def _window_batches(
    store: ObjectStore,
    buckets: Buckets,
    cfg: ModelConfig,
    window: HistoryWindow,
    newest: int | None,
) -> tuple[list[_Batch], int]:
    """(the labelled batches in the window, newest first, integrity-broken ones included as
    notes; how many labelled batches it left unread). `newest` (an operator's N newest batches
    alone) replaces the window: it is its own bound."""
    ids, older = within_days(
        storage.label_times(store, buckets.data), None if newest else window.days
    )
    cap = None if newest else window.rows

    def used(done: list[_Batch]) -> list[_Batch]:
        """The prefix of `done` the window keeps: up to the batch that reaches the bound."""
        kept, rows, clean = [], 0, 0
        for batch in done:
            if (newest and clean == newest) or (cap is not None and rows >= cap):
                break
            kept.append(batch)
            rows, clean = rows + batch.rows, clean + (batch.frame is not None)
        return kept

    def still_wanted(done: list[_Batch]) -> float:
        clean = [b for b in used(done) if b.frame is not None]
        if newest:
            return newest - len(clean)
        if cap is None:
            return len(ids)
        rows = sum(b.rows for b in clean)
        # Sized by the rows per batch so far: a huge day is not read four times to find one.
        return (cap - rows) / (rows / len(clean)) if clean else 1

    def read(batch_id: str) -> _Batch:
        return _labelled_batch(store, buckets, cfg, batch_id)

    batches = used(read_newest(ids, read, still_wanted))
    return batches, len(ids) - len(batches) + len(older)


def load_training_set(
    store: ObjectStore,
    buckets: Buckets,
    cfg: ModelConfig,
    since: str | None = None,
    recent_batches: int | None = None,
    recovery: bool = False,
    window: HistoryWindow = FULL_HISTORY,
) -> TrainingSet:
    """The training sources and the labelled batches in `window`, checked under the data
    contract; integrity-broken batches left out.

    `since` keeps rows at or after a date. `recent_batches` on its own (an operator's run)
    trains on the N most recently labelled production batches alone; with no labelled batch
    yet, it falls back to all data. In `recovery` (the breaker's retrain) the window's labelled
    batches train beside the training sources, and `recency` numbers them newest first for
    `mlcycle.training_window` (the newest `recent_batches` are the recent ones).
    """
    found = TrainingSet(pd.DataFrame(), {}, [])
    alone = None if recovery else recent_batches
    batches, unread = _window_batches(store, buckets, cfg, window, alone)
    frames: list[pd.DataFrame] = []
    ranks: list[int] = []
    for batch in batches:
        found.notes += batch.notes
        if batch.excluded:
            found.excluded.append(batch.excluded)
        if batch.frame is not None:
            ranks.append(len(frames) if recovery else -1)
            frames.append(batch.frame)
            found.parts.append(
                {**batch.part, "recent": recovery and len(frames) <= (recent_batches or 0)}
            )
    arrivals = [b.arrived_at for b in batches if b.frame is not None and b.arrived_at]
    found.newest_arrival = max(arrivals, default=None)
    found.window = {**window.describe(), "batches_read": len(batches), "batches_unread": unread}
    if unread and not alone:
        found.notes.append(
            f"{unread} older labelled batch(es) outside the window {window.describe()} not read; "
            '{"window": "full"} reads every one'
        )
    if not (alone and frames):
        if alone:
            found.notes.append(
                f"no labelled batch yet: recent_batches={alone} falls back to all data"
            )
        base = _read_source_files(store, buckets.data, cfg.target_source, cfg, found.notes)
        attrs = {
            s.name: _read_source_files(store, buckets.data, s, cfg, found.notes)
            for s in cfg.attribute_sources
        }
        joined, coverage = _joined(cfg, base, attrs)
        frames.insert(0, joined)
        ranks.insert(0, -1)
        found.parts.insert(
            0, {"part": "training sources", "rows": len(joined), "coverage": coverage}
        )
    found.frame = pd.concat(frames, ignore_index=True)
    found.recency = np.concatenate([np.full(len(f), r) for f, r in zip(frames, ranks, strict=True)])
    if since:
        keep = (found.frame[cfg.time_column] >= pd.Timestamp(since)).to_numpy()
        found.frame, found.recency = found.frame[keep].reset_index(drop=True), found.recency[keep]
    total = max(sum(p["rows"] for p in found.parts), 1)
    found.coverage = {
        s.name: sum(p["rows"] * p["coverage"].get(s.name, 0.0) for p in found.parts) / total
        for s in cfg.attribute_sources
    }
    return found
