"""A label-free accuracy estimate that is calibrated on labels (CBPE with histogram binning).

A row's top probability is binned on the version's confidence bins; each bin's accuracy is
measured where labels exist: on the newest labelled production batches once they hold
enough rows, on the training holdout before that (the holdout can be another season, and a
model's confidence drifts from its accuracy as the world moves). The expected accuracy of a
batch is then the bin accuracies weighted by how many of its rows fall in each bin. Its
standard error comes from the bin accuracies' own uncertainty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONFIDENCE_BINS = 10
PRIOR_ROWS = 2.0  # pseudo-rows pulling a sparsely labelled bin toward the overall accuracy


def confidence_edges(top: np.ndarray, bins: int = CONFIDENCE_BINS) -> list[float]:
    """Inner edges at the holdout's confidence quantiles: every bin holds labelled rows."""
    if len(top) == 0:
        return []
    levels = np.arange(1, bins) / bins
    return [float(e) for e in np.unique(np.quantile(top, levels, method="inverted_cdf"))]


def top_probability(values: np.ndarray) -> np.ndarray:
    return np.nanmax(np.where(np.isnan(values), -np.inf, values), axis=1)


@dataclass(frozen=True)
class Table:
    """Per confidence bin: labelled rows and correct predictions; where they were measured."""

    rows: np.ndarray
    correct: np.ndarray
    source: str  # "holdout" or "production"

    @property
    def accuracy(self) -> np.ndarray:
        total = self.rows.sum()
        overall = self.correct.sum() / total if total else 0.5
        return (self.correct + PRIOR_ROWS * overall) / (self.rows + PRIOR_ROWS)

    def to_json(self) -> dict:
        return {"rows": self.rows.tolist(), "correct": self.correct.tolist(), "source": self.source}


def table(holdout: dict, production: list[dict], min_rows: int) -> Table:
    """The calibration to use: production labels when they are enough, else holdout + them."""
    size = len(holdout["rows"])
    rows = np.zeros(size, dtype="float64")
    correct = np.zeros(size, dtype="float64")
    for entry in production:
        if len(entry["rows"]) == size:
            rows += np.asarray(entry["rows"], dtype="float64")
            correct += np.asarray(entry["correct"], dtype="float64")
    if production and rows.sum() >= max(min_rows, 1):
        return Table(rows, correct, "production")
    rows += np.asarray(holdout["rows"], dtype="float64")
    correct += np.asarray(holdout["correct"], dtype="float64")
    return Table(rows, correct, "holdout" if not production else "holdout+production")


def estimate(confidence_counts: np.ndarray, calibration: Table) -> dict | None:
    """Expected accuracy of rows binned by confidence, with its standard error."""
    n = confidence_counts.sum()
    if n == 0:
        return None
    weights = confidence_counts / n
    accuracy = calibration.accuracy
    value = float(weights @ accuracy)
    spread = float(weights @ (accuracy - value) ** 2)  # between rows: what varies with the mix
    bin_var = accuracy * (1 - accuracy) / (calibration.rows + PRIOR_ROWS)
    return {
        "expected_accuracy": value,
        "standard_error": float(np.sqrt(weights**2 @ bin_var)),
        "row_variance": spread,
        "calibrated_on": calibration.source,
        "calibration_rows": int(calibration.rows.sum()),
    }


def labelled_bins(top: np.ndarray, correct: np.ndarray, edges: list[float]) -> dict[str, list[int]]:
    """Rows and correct predictions per confidence bin, from labelled rows."""
    index = np.searchsorted(np.asarray(edges), top, side="right")
    size = len(edges) + 1
    return {
        "rows": np.bincount(index, minlength=size).tolist(),
        "correct": np.bincount(index, weights=correct.astype("float64"), minlength=size)
        .astype("int64")
        .tolist(),
    }
