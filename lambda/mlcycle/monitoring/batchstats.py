"""Mergeable statistics of a scored batch: what every label-free rule is computed from.

Infer adds each scored chunk as it goes (the gate before publication), the monitor adds the
whole published batch, and both judge the result with the same rules, so the two can only
disagree when their inputs do. Everything is a count or a sum on bins fixed by the model
version (the reference's bin edges and categories, the calibration's confidence bins), so
statistics of chunks, and later of shards, merge by addition.

JSON form (``to_json``)::

    {"rows": int, "violations": int, "matched": {source: int},
     "nulls": {column: int}, "counts": {column: [int per bin]},
     "inputs_rows": int, "inputs_nulls": {...}, "inputs_counts": {...},   # model inputs
     "classes": {class: int}, "confidence": [int per confidence bin],
     "positive_sum": float, "positive_sq": float}

A numeric column has ``len(edges) + 1`` bins; a categorical one has a bin per reference
category and a last one for every other value. Model inputs (the features the plug-in's
pipeline hands its final estimator) are counted on a bounded sample of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .columns import OTHER, category_counts, numeric_values, split_known


@dataclass(frozen=True)
class ColumnBins:
    kind: str  # "numeric" | "categorical" | "datetime" (nulls only)
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        if self.kind == "numeric":
            return len(self.edges) + 1
        return len(self.categories) + 1 if self.kind == "categorical" else 0

    def count(self, series: pd.Series) -> tuple[int, np.ndarray]:
        """(missing values, counts per bin) of one chunk of the column."""
        if self.kind == "numeric":
            values = numeric_values(series)
            index = np.searchsorted(np.asarray(self.edges), values, side="right")
            return len(series) - len(values), np.bincount(index, minlength=self.size)
        if self.kind == "categorical":
            counts = category_counts(series)
            on_known, elsewhere = split_known(counts, list(self.categories))
            bins = np.append(on_known.to_numpy(dtype="int64"), elsewhere)
            return len(series) - int(counts.sum()), bins
        return int(series.isna().sum()), np.zeros(0, dtype="int64")


def bins_from_profile(features: dict) -> dict[str, ColumnBins]:
    """The bins of each profiled column: the reference's decile edges, its stored categories."""
    bins = {}
    for name, ref in features.items():
        if ref["kind"] == "numeric":
            bins[name] = ColumnBins("numeric", edges=tuple(ref.get("bin_edges", ())))
        elif ref["kind"] == "categorical":
            known = tuple(k for k in ref.get("shares", {}) if k != OTHER)
            bins[name] = ColumnBins("categorical", categories=known)
        else:
            bins[name] = ColumnBins("datetime")
    return bins


@dataclass(frozen=True)
class Layout:
    """Where a model version's statistics are binned; built from its signed metadata."""

    features: dict[str, ColumnBins]
    inputs: dict[str, ColumnBins]
    classes: tuple[str, ...]
    confidence_edges: tuple[float, ...]
    positive_class: str | None
    sources: tuple[str, ...]

    @classmethod
    def of(cls, profile: dict, limits: dict, sources: list[str], positive: str | None) -> Layout:
        return cls(
            features=bins_from_profile(profile["features"]),
            inputs=bins_from_profile(profile.get("model_inputs") or {}),
            classes=tuple(str(c) for c in profile["predictions"]["classes"]),
            confidence_edges=tuple(limits["calibration"]["edges"]),
            positive_class=positive,
            sources=tuple(sources),
        )


def _zeros(bins: dict[str, ColumnBins]) -> dict[str, np.ndarray]:
    return {name: np.zeros(b.size, dtype="int64") for name, b in bins.items()}


def add_label_counts(counts: dict[str, int], labels: np.ndarray) -> None:
    """Add each predicted label's count to `counts` (by hashing: np.unique sorted a chunk's
    strings, ten times slower)."""
    codes, uniques = pd.factorize(np.asarray(labels), use_na_sentinel=False)
    for label, count in zip(uniques, np.bincount(codes), strict=True):
        counts[str(label)] = counts.get(str(label), 0) + int(count)


@dataclass
class BatchStats:
    rows: int = 0
    violations: int = 0
    matched: dict[str, int] = field(default_factory=dict)
    nulls: dict[str, int] = field(default_factory=dict)
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    inputs_rows: int = 0
    inputs_nulls: dict[str, int] = field(default_factory=dict)
    inputs_counts: dict[str, np.ndarray] = field(default_factory=dict)
    classes: dict[str, int] = field(default_factory=dict)
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int64"))
    positive_sum: float = 0.0
    positive_sq: float = 0.0

    @classmethod
    def empty(cls, layout: Layout) -> BatchStats:
        return cls(
            matched=dict.fromkeys(layout.sources, 0),
            nulls=dict.fromkeys(layout.features, 0),
            counts=_zeros(layout.features),
            inputs_nulls=dict.fromkeys(layout.inputs, 0),
            inputs_counts=_zeros(layout.inputs),
            classes=dict.fromkeys(layout.classes, 0),
            confidence=np.zeros(len(layout.confidence_edges) + 1, dtype="int64"),
        )

    def add(
        self,
        layout: Layout,
        features: pd.DataFrame,
        predicted: np.ndarray,
        proba: pd.DataFrame | None,
        matched: dict[str, int],
        inputs: pd.DataFrame | None = None,
    ) -> None:
        """Count one chunk: its typed features, predictions, join matches and, when given, a
        sample of its model inputs."""
        self.rows += len(features)
        for source, hits in matched.items():
            self.matched[source] = self.matched.get(source, 0) + int(hits)
        _add_columns(layout.features, features, self.nulls, self.counts)
        if inputs is not None:
            self.inputs_rows += len(inputs)
            _add_columns(layout.inputs, inputs, self.inputs_nulls, self.inputs_counts)
        add_label_counts(self.classes, predicted)
        if proba is not None and len(proba):
            values = proba.to_numpy(dtype="float64", na_value=np.nan)
            top = np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1)
            index = np.searchsorted(np.asarray(layout.confidence_edges), top, side="right")
            self.confidence += np.bincount(index, minlength=len(self.confidence))
            if layout.positive_class in proba.columns:
                p = proba[layout.positive_class].to_numpy(dtype="float64", na_value=np.nan)
                p = p[np.isfinite(p)]
                self.positive_sum += float(p.sum())
                self.positive_sq += float((p * p).sum())

    def merge(self, other: BatchStats) -> BatchStats:
        """The statistics of both parts together (chunks, shards)."""
        return BatchStats(
            rows=self.rows + other.rows,
            violations=self.violations + other.violations,
            matched=_sum_maps(self.matched, other.matched),
            nulls=_sum_maps(self.nulls, other.nulls),
            counts=_sum_maps(self.counts, other.counts),
            inputs_rows=self.inputs_rows + other.inputs_rows,
            inputs_nulls=_sum_maps(self.inputs_nulls, other.inputs_nulls),
            inputs_counts=_sum_maps(self.inputs_counts, other.inputs_counts),
            classes=_sum_maps(self.classes, other.classes),
            confidence=self.confidence + other.confidence,
            positive_sum=self.positive_sum + other.positive_sum,
            positive_sq=self.positive_sq + other.positive_sq,
        )

    def to_json(self) -> dict:
        return {
            "rows": self.rows,
            "violations": self.violations,
            "matched": dict(self.matched),
            "nulls": dict(self.nulls),
            "counts": {k: v.tolist() for k, v in self.counts.items()},
            "inputs_rows": self.inputs_rows,
            "inputs_nulls": dict(self.inputs_nulls),
            "inputs_counts": {k: v.tolist() for k, v in self.inputs_counts.items()},
            "classes": dict(self.classes),
            "confidence": self.confidence.tolist(),
            "positive_sum": self.positive_sum,
            "positive_sq": self.positive_sq,
        }

    @classmethod
    def from_json(cls, doc: dict) -> BatchStats:
        def arrays(d: dict) -> dict[str, np.ndarray]:
            return {k: np.asarray(v, dtype="int64") for k, v in d.items()}

        return cls(
            rows=int(doc["rows"]),
            violations=int(doc["violations"]),
            matched={k: int(v) for k, v in doc["matched"].items()},
            nulls={k: int(v) for k, v in doc["nulls"].items()},
            counts=arrays(doc["counts"]),
            inputs_rows=int(doc["inputs_rows"]),
            inputs_nulls={k: int(v) for k, v in doc["inputs_nulls"].items()},
            inputs_counts=arrays(doc["inputs_counts"]),
            classes={k: int(v) for k, v in doc["classes"].items()},
            confidence=np.asarray(doc["confidence"], dtype="int64"),
            positive_sum=float(doc["positive_sum"]),
            positive_sq=float(doc["positive_sq"]),
        )


def _add_columns(
    bins: dict[str, ColumnBins],
    frame: pd.DataFrame,
    nulls: dict[str, int],
    counts: dict[str, np.ndarray],
) -> None:
    for name, column in bins.items():
        if name not in frame:  # a column the batch lacks is all missing for the model
            nulls[name] += len(frame)
            continue
        missing, binned = column.count(frame[name])
        nulls[name] += missing
        if column.size:
            counts[name] += binned


def _sum_maps(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b.get(k, 0) for k in dict.fromkeys([*a, *b])}


def input_sample(rows: int, limit: int) -> slice:
    """Every k-th row of a chunk, at most ``limit`` of them: bounded, spread over the chunk."""
    return slice(None, None, max(1, -(-rows // max(limit, 1))))
