"""The monitor's side of the rules: judge a published batch with what its labels show so far,
and remember it in the window that later limits learn from.

The label-free statistics are the ones infer counted before publication (kept in the
manifest), so the gate and the monitor judge the very same numbers; the monitor adds the
label-based rules as complete labels or increments arrive, and each run replaces the
batch's entry in the window (partial labels of earlier ages stay in it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd

from mlcycle import storage
from mlcycle.config import ModelConfig
from mlcycle.labels import BatchLabels
from mlcycle.monitoring import window as windows
from mlcycle.monitoring.batchstats import BatchStats
from mlcycle.monitoring.judge import judge
from mlcycle.monitoring.labelstats import LabelStats, label_stats, label_timing
from mlcycle.monitoring.overdue import Overdue, overdue_rows
from mlcycle.objectstore import ObjectStore
from mlcycle.publication_gate import version_of
from mlcycle.storage import Buckets
from mlcycle.window_store import read_window, update_window


def age_days(labels: BatchLabels, arrived_at: str) -> int | None:
    """Days from the batch's arrival to the newest increment: what partial labels are compared
    by."""
    if labels.complete or labels.as_of is None:
        return None
    arrived = dt.datetime.fromisoformat(arrived_at).date()
    return (dt.date.fromisoformat(labels.as_of) - arrived).days


def overdue_of(
    cfg: ModelConfig, features: pd.DataFrame, labels: BatchLabels, age: int | None
) -> Overdue | None:
    """The rows partial labels at ``age`` should cover and lack (``features`` aligned with the
    labels by position); None at complete labels or without monitoring.label_due_column."""
    due = cfg.rules.due_column
    if due is None or age is None:
        return None
    return overdue_rows(
        features[due], features[cfg.time_column], labels.values.notna().to_numpy(), age
    )


def arrived_at(store: ObjectStore, buckets: Buckets, manifest: dict) -> str:
    """When the batch came in: its publication, or for a batch scored from held/ (on probation
    after a recovery, say) the time it was held. Its labels have been arriving since then, so
    counting their age from a later scoring would expect too few of them."""
    batch_id = manifest["batch_id"]
    if manifest.get("input_prefix") == storage.held_prefix(batch_id):
        try:
            note, _ = store.get_json(buckets.data, storage.held_note_key(batch_id))
        except ValueError:
            note = None  # a later start counts fewer labels as due: the rule errs towards a trip
        if isinstance(note, dict) and note.get("held_at"):
            return str(note["held_at"])
    return str(manifest["published_at"])


def judge_published(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    manifest: dict,
    metadata: dict,
    features: pd.DataFrame,
    predicted: np.ndarray,
    proba: pd.DataFrame | None,
    labels: BatchLabels | None,
) -> dict | None:
    """Every rule's verdict on a published batch; None when the batch or its version predates
    the rules (no statistics in the manifest, no limits in the version)."""
    model = version_of(cfg, metadata, manifest["model_version"])
    if model is None or not manifest.get("statistics"):
        return None
    stats = BatchStats.from_json(manifest["statistics"])
    window = read_window(store, buckets.monitoring, cfg.name)
    known = None
    if labels is not None:
        age = age_days(labels, arrived_at(store, buckets, manifest))
        known = label_stats(
            predicted,
            proba,
            labels.values.reset_index(drop=True),
            cfg.positive_class,
            list(model.layout.confidence_edges),
            labels.complete,
            age,
            label_timing(features, cfg.rules.timing_column, model.limits),
        )
        found = overdue_of(cfg, features, labels, age)
        if found is not None:
            known = replace(known, due=(found.due, found.overdue))
    result = judge(model, stats, known, window, cfg.rules, manifest["batch_id"])
    remember(store, buckets, cfg, manifest, stats, result, known, model.limits.get("timing_edges"))
    return result


def remember(
    store: ObjectStore,
    buckets: Buckets,
    cfg: ModelConfig,
    manifest: dict,
    stats: BatchStats,
    result: dict,
    known: LabelStats | None,
    timing_edges: list | None = None,
) -> None:
    """Add or replace the batch's entry in the window (a conditional write, retried)."""
    entry = windows.entry(
        manifest["batch_id"],
        manifest["model_version"],
        manifest["published_at"],
        stats,
        result,
        known,
        timing_edges,
    )
    update_window(
        store,
        buckets.monitoring,
        cfg.name,
        lambda window: windows.upsert(window, entry, cfg.rules.window_batches),
    )
