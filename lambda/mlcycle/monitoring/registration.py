"""The limits a model version is registered with, measured on its holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import calibration
from .batchstats import BatchStats, Layout
from .columns import numeric_values
from .distances import quantile_edges
from .labelstats import label_stats
from .limits import reference_limits

SLICES = 8  # consecutive time slices of the holdout: their differences measure the season
TIMING_BINS = 20


def holdout_limits(
    profile: dict,
    holdout: pd.DataFrame,
    inputs: pd.DataFrame | None,
    predicted: np.ndarray,
    proba: pd.DataFrame | None,
    labels: pd.Series,
    positive_class: str | None,
    coverage: dict[str, float],
    timing_column: str | None = None,
    timing_edges: list[float] | None = None,
) -> dict:
    """Confidence bins at the holdout's quantiles, their accuracy, and every statistic's value
    and seasonal spread on the holdout (``limits.reference_limits``). The holdout is in time
    order (``datasets.time_split``). With a label-timing column, its bins for the early rule
    are the holdout's 5% quantiles: finer than the drift deciles, because how soon a label is
    known changes fastest among the shortest lead times. ``timing_edges`` (the champion's) are
    kept instead when given: how soon labels arrive is the world's, not the model's, so a new
    version on the same bins can lean on its predecessors' partial-label history until it has
    its own."""
    values = None if proba is None else proba.to_numpy(dtype="float64", na_value=np.nan)
    top = calibration.top_probability(values) if values is not None else np.zeros(len(labels))
    edges = calibration.confidence_edges(top) if values is not None else []
    layout = Layout.of(profile, {"calibration": {"edges": edges}}, [], positive_class)
    truth = labels.reset_index(drop=True)
    slices = []
    for rows in np.array_split(np.arange(len(holdout)), SLICES):
        stats = BatchStats.empty(layout)
        part_proba = None if proba is None else proba.iloc[rows].reset_index(drop=True)
        stats.add(
            layout,
            holdout.iloc[rows],
            np.asarray(predicted)[rows],
            part_proba,
            {},
            None if inputs is None else inputs.iloc[rows],
        )
        part_labels = label_stats(
            np.asarray(predicted)[rows],
            part_proba,
            truth.iloc[rows].reset_index(drop=True),
            positive_class,
            edges,
            complete=True,
        )
        slices.append((stats, part_labels))
    correct = truth.astype(str).to_numpy() == np.asarray(predicted).astype(str)
    limits = reference_limits(layout, slices, top, correct, coverage)
    if timing_column is not None:
        if timing_edges is None:
            values = numeric_values(holdout[timing_column])
            timing_edges = quantile_edges(values, TIMING_BINS).tolist()
        limits["timing_edges"] = list(timing_edges)
    return limits
