"""Business KPIs: the numbers the hotel business reads, next to the model's view of them.

A model can keep its accuracy while the business moves under it (a cancellation wave, a
market opening up, a feed delivering half the bookings). These KPIs make that visible:
how many cancellations the model expects vs how many happened, how many bookings arrived
vs how many were expected, and where they come from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import as_float, category_counts, plain, ratio

TOP_SEGMENTS = 10


def business_kpis(
    proba_or_predicted: pd.DataFrame | pd.Series,
    labels: pd.Series | None,
    profile: dict,
    positive_class: str | None = None,
    expected_rows: int | None = None,
    features: pd.DataFrame | None = None,
    segment_column: str | None = None,
) -> dict:
    """Predicted vs realised rate of the positive class, volume vs expectation, top-segment shares.

    The predicted rate is the mean probability of ``positive_class`` (for the example model,
    the number of cancellations a calibrated model expects) or, for a labels-only plug-in
    (a Series), the share predicted as that class. The gap is measured on the labelled rows
    only, so partial labels compare like with like instead of mixing two populations.

    ``expected_rows`` defaults to the reference row count. Segment shares are over the
    non-missing values of ``segment_column`` when ``features`` has it, with the reference's
    share of the same segment alongside.
    """
    positive = (
        None if positive_class is None else _positive_scores(proba_or_predicted, positive_class)
    )
    rows = len(proba_or_predicted)
    expected = expected_rows if expected_rows is not None else profile["row_count"]
    labelled = labels.notna().to_numpy() if labels is not None else np.zeros(rows, dtype=bool)
    realised = None
    if labels is not None and positive_class is not None and labelled.any():
        realised = (labels[labelled] == positive_class).to_numpy(dtype="float64")
    predicted_on_labelled = (
        positive[labelled] if positive is not None and realised is not None else None
    )

    key = str(positive_class)
    reference_predictions = profile["predictions"]
    reference_shares = (
        reference_predictions.get("expected_class_shares") or reference_predictions["class_shares"]
    )
    reference_labels = (profile.get("reference_performance") or {}).get("label_shares", {})
    return {
        "positive_class": plain(positive_class),
        "predicted_positive_rate": _mean(positive),
        "realised_positive_rate": _mean(realised),
        "positive_rate_gap": _gap(predicted_on_labelled, realised),
        "labelled_rows": int(labelled.sum()),
        "reference_predicted_positive_rate": reference_shares.get(key),
        "reference_realised_positive_rate": reference_labels.get(key),
        "rows": rows,
        "expected_rows": expected,
        "volume_ratio": ratio(rows, expected),
        "segments": _segment_shares(features, segment_column, profile),
    }


def _positive_scores(
    proba_or_predicted: pd.DataFrame | pd.Series, positive_class: str
) -> np.ndarray | None:
    """Per row: probability (or 0/1 prediction) of the positive class; NaN where unknown."""
    if isinstance(proba_or_predicted, pd.DataFrame):
        if positive_class not in proba_or_predicted.columns:
            return None
        return proba_or_predicted[positive_class].to_numpy(dtype="float64", na_value=np.nan)
    is_positive = (proba_or_predicted == positive_class).to_numpy(dtype="float64")
    return np.where(proba_or_predicted.notna().to_numpy(), is_positive, np.nan)


def _mean(values: np.ndarray | None) -> float | None:
    if values is None or np.isnan(values).all():
        return None
    return as_float(np.nanmean(values))


def _gap(predicted: np.ndarray | None, realised: np.ndarray | None) -> float | None:
    if predicted is None:
        return None
    assert realised is not None  # business_kpis passes predicted only alongside realised
    scored = ~np.isnan(predicted)
    if not scored.any():
        return None
    return as_float(predicted[scored].mean() - realised[scored].mean())


def _segment_shares(
    features: pd.DataFrame | None, column: str | None, profile: dict
) -> dict | None:
    if features is None or column is None or column not in features:
        return None
    counts = category_counts(features[column])
    total = counts.sum()
    reference = profile["features"].get(column, {}).get("shares", {})
    return {
        "column": column,
        "missing_share": ratio(len(features) - total, len(features)),
        # reference_share is None for a segment outside the reference's stored categories.
        "top": {
            key: {"share": ratio(count, total), "reference_share": reference.get(key)}
            for key, count in counts.iloc[:TOP_SEGMENTS].items()
        },
    }
