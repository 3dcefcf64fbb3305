"""What a batch's labels prove so far: the label-based side of the rules.

Complete labels give realised accuracy, the realised positive rate against the predicted one,
and fresh calibration counts. Partial labels (the ones known early: for the example model a
cancellation is known the day it happens) are a biased sample of the rows, so they are not
scored as accuracy; they give the positives known so far against the positives the model
expects, per bin of the column that sets how soon a label can be known (for the example
model the lead time: a cancellation 3 days before check-in is known sooner than one due in
three months), compared with what recent batches showed at the same age (``limits``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import calibration


@dataclass(frozen=True)
class LabelStats:
    complete: bool
    age_days: int | None  # partial labels: days from publication to the newest increment
    rows: int
    labelled: int
    correct: int
    positive_known: int
    positive_expected: float  # the batch's mean-probability count of the positive class
    positive_predicted_on_labelled: float
    bins: dict[str, list[int]] | None  # calibration counts (complete labels only)
    # Per timing bin: positives known so far and the positives the model expects.
    timing_known: list[int] | None = None
    timing_expected: list[float] | None = None
    # Partial labels: (rows past their label due date, those still unlabelled); None without
    # monitoring.label_due_column.
    due: tuple[int, int] | None = None

    def to_json(self) -> dict:
        return {
            "complete": self.complete,
            "age_days": self.age_days,
            "rows": self.rows,
            "labelled": self.labelled,
            "correct": self.correct,
            "positive_known": self.positive_known,
            "positive_expected": self.positive_expected,
            "positive_predicted_on_labelled": self.positive_predicted_on_labelled,
            "bins": self.bins,
            "timing_known": self.timing_known,
            "timing_expected": self.timing_expected,
            "due": None if self.due is None else list(self.due),
        }


def label_stats(
    predicted: np.ndarray,
    proba: pd.DataFrame | None,
    labels: pd.Series,
    positive_class: str | None,
    confidence_edges: list[float],
    complete: bool,
    age_days: int | None = None,
    timing: tuple[np.ndarray, int] | None = None,
) -> LabelStats:
    """Label statistics of one batch; ``labels`` aligns with ``predicted`` by position.

    ``timing`` is (bin of each row, number of bins) of the label-timing column."""
    known = labels.notna().to_numpy()
    truth = labels.to_numpy(dtype=object)[known].astype(str)
    guess = np.asarray(predicted).astype(str)[known]
    hits = truth == guess
    p_positive = None
    if proba is not None and positive_class in proba.columns:
        p_positive = proba[positive_class].to_numpy(dtype="float64", na_value=np.nan)
    bins = None
    if proba is not None and known.any() and complete:
        top = calibration.top_probability(proba.to_numpy(dtype="float64", na_value=np.nan))[known]
        bins = calibration.labelled_bins(top, hits, confidence_edges)
    timing_known = timing_expected = None
    if p_positive is not None and positive_class is not None:
        index, size = timing if timing is not None else (np.zeros(len(labels), dtype="int64"), 1)
        is_positive = labels.to_numpy(dtype=object).astype(str) == str(positive_class)
        timing_known = np.bincount(index[is_positive & known], minlength=size).tolist()
        timing_expected = np.bincount(
            index, weights=np.nan_to_num(p_positive), minlength=size
        ).tolist()
    return LabelStats(
        complete=complete,
        age_days=age_days,
        rows=len(labels),
        labelled=int(known.sum()),
        correct=int(hits.sum()),
        positive_known=int((truth == str(positive_class)).sum()) if positive_class else 0,
        positive_expected=float(np.nansum(p_positive)) if p_positive is not None else 0.0,
        positive_predicted_on_labelled=(
            float(np.nansum(p_positive[known])) if p_positive is not None else 0.0
        ),
        bins=bins,
        timing_known=timing_known,
        timing_expected=timing_expected,
    )


def label_timing(
    features: pd.DataFrame, column: str | None, limits: dict
) -> tuple[np.ndarray, int] | None:
    """The timing bins of a batch's rows, None without a timing column (or for a version
    registered before timing bins existed: its early rule then pools every row)."""
    edges = limits.get("timing_edges")
    if column is None or edges is None or column not in features:
        return None
    return timing_bins(features[column].reset_index(drop=True), tuple(edges))


def timing_bins(values: pd.Series, edges: tuple[float, ...]) -> tuple[np.ndarray, int]:
    """Bin of each row on the timing column's reference edges; missing values get a bin of
    their own (the last)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    index = np.searchsorted(np.asarray(edges), numbers, side="right")
    missing = len(edges) + 1
    return np.where(np.isfinite(numbers), index, missing).astype("int64"), missing + 1
