"""The reference profile: what "normal" looked like when the model version was trained.

Built once at training time and stored in the version's ``metadata.json``, so the monitor
never needs the training data again and every batch is judged against the data the model
that scored it actually learned from. Build it from the holdout split (features, the
model's probabilities on them and their labels): its predictions are out-of-sample like a
production batch's, so class shares, confidence and accuracy are comparable.

Format (JSON; every float is finite, keys of class/category maps are ``str(value)``)::

    {
      "format": "mlcycle.reference_profile/1",
      "row_count": int,                        # rows of the reference
      "features": {
        <numeric>: {"kind": "numeric", "null_rate": float, "non_null_count": int,
                    "n_unique": int, "mean": float, "std": float (population, ddof=0),
                    "min": float, "max": float,
                    "bin_edges": [<= 9 inner decile edges, increasing],  # drift-test bins
                    "bin_shares": [len(bin_edges) + 1 shares]},          # their reference
        <categorical>: {"kind": "categorical", "null_rate": float, "non_null_count": int,
                        "n_unique": int, "shares": {category: share, ..., "__other__": share}},
        <datetime>: {"kind": "datetime", "null_rate": float, "non_null_count": int}
      },
      "model_inputs": {<column the final estimator sees>: as a feature above},  # may be {}
      "predictions": {"classes": [...], "class_shares": {class: share of arg-max},
                      "expected_class_shares": {class: mean probability} | null,
                      "mean_confidence": float | null},
      "reference_performance": {"accuracy", "macro_f1", "label_coverage",
                                "label_shares": {class: share}} | null,
      "holdout_metrics": {...}                 # passed through from training
    }

A numeric feature with no values has only kind, null_rate and non_null_count (0); a
categorical one has empty shares. Shares are over non-missing values. Categorical shares
keep the ``max_categories`` most frequent categories; the rest of the reference's mass is
in "__other__" (present, possibly 0). Profiles written before the binned drift tests also
hold "quantiles", "sample" and, for a numeric column with few values, "values" and
"value_shares"; nothing reads them, so old and new profiles are both format 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import distances
from .columns import (
    KINDS,
    OTHER,
    as_float,
    as_series,
    category_counts,
    class_shares,
    missing_share,
    numeric_values,
    plain,
    predicted_labels,
)
from .performance import estimated_performance, realised_performance

PROFILE_FORMAT = "mlcycle.reference_profile/1"


def build_reference_profile(
    features: pd.DataFrame,
    feature_kinds: dict[str, str],
    proba: pd.DataFrame | None,
    labels: pd.Series | None = None,
    holdout_metrics: dict | None = None,
    *,
    predicted: pd.Series | None = None,
    max_categories: int = 1000,
    reference_features: pd.DataFrame | None = None,
    model_inputs: pd.DataFrame | None = None,
) -> dict:
    """Summarise reference features and predictions into the JSON profile described above.

    ``proba`` is None for a labels-only plug-in; pass its ``predicted`` labels instead (or
    as well: the plug-in's own labels then set the predicted class shares). ``labels`` and
    ``predicted`` may be arrays or Series and align with the rows of ``features`` by position.
    ``reference_features`` (all the rows the model learned from) replaces
    ``features`` for the feature distributions: a small holdout makes PSI and chi-square
    noisy enough to trip on clean batches, while predictions must stay out-of-sample.
    ``model_inputs`` (what a pipeline's final estimator saw for the same rows) is profiled
    the same way under ``"model_inputs"``, numeric columns as numeric, others as categorical.
    Raises ValueError for a column or kind the reference cannot describe: a profile with a
    hole would silently disable monitoring for that feature.
    """
    missing = [name for name in feature_kinds if name not in features]
    unknown = {name: kind for name, kind in feature_kinds.items() if kind not in KINDS}
    if missing or unknown:
        raise ValueError(
            f"cannot profile: columns missing {missing}, unknown kinds {unknown} "
            f"(kinds are {KINDS})"
        )
    predicted, labels = as_series(predicted), as_series(labels)
    if proba is None and predicted is None:
        raise ValueError(
            "cannot profile predictions: pass proba or, for a labels-only plug-in, predicted"
        )
    if predicted is None:
        predicted = predicted_labels(proba)
    classes = (
        list(proba.columns) if proba is not None else sorted(predicted.dropna().unique(), key=str)
    )
    distributions = features if reference_features is None else reference_features
    return {
        "format": PROFILE_FORMAT,
        "row_count": len(distributions),
        "features": {
            name: _feature_profile(distributions[name], kind, max_categories)
            for name, kind in feature_kinds.items()
        },
        "model_inputs": {
            str(name): _feature_profile(
                column,
                "numeric" if pd.api.types.is_numeric_dtype(column) else "categorical",
                max_categories,
            )
            for name, column in (model_inputs.items() if model_inputs is not None else [])
        },
        "predictions": _prediction_profile(proba, predicted, classes),
        "reference_performance": _reference_performance(predicted, labels, classes),
        "holdout_metrics": {
            str(key): _json_scalar(value) for key, value in (holdout_metrics or {}).items()
        },
    }


def _feature_profile(series: pd.Series, kind: str, max_categories: int) -> dict:
    common = {"kind": kind, "null_rate": missing_share(series, kind)}
    if kind == "numeric":
        return {**common, **_numeric_profile(numeric_values(series))}
    if kind == "categorical":
        return {**common, **_categorical_profile(category_counts(series), max_categories)}
    return {**common, "non_null_count": int(series.notna().sum())}


def _numeric_profile(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"non_null_count": 0}
    edges = distances.quantile_edges(values)
    return {
        "non_null_count": len(values),
        "n_unique": len(np.unique(values)),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "bin_edges": edges.tolist(),
        "bin_shares": distances.bin_shares(values, edges).tolist(),
    }


def _categorical_profile(counts: pd.Series, max_categories: int) -> dict:
    total = int(counts.sum())
    # A literal "__other__" value in the data is folded into the bucket of that name.
    kept = counts.drop(OTHER, errors="ignore").iloc[:max_categories]
    shares = {key: float(count / total) for key, count in kept.items()}
    if total:
        shares[OTHER] = float((total - kept.sum()) / total)
    return {"non_null_count": total, "n_unique": len(counts), "shares": shares}


def _prediction_profile(proba: pd.DataFrame | None, predicted: pd.Series, classes: list) -> dict:
    estimated = estimated_performance(proba)
    return {
        "classes": [plain(label) for label in classes],
        "class_shares": class_shares(predicted),
        "expected_class_shares": estimated.get("expected_class_shares"),
        "mean_confidence": estimated.get("expected_accuracy"),
    }


def _reference_performance(
    predicted: pd.Series, labels: pd.Series | None, classes: list
) -> dict | None:
    if labels is None:
        return None
    realised = realised_performance(predicted, labels, classes)
    return {
        "accuracy": realised.get("accuracy"),
        "macro_f1": realised.get("macro_f1"),
        "label_coverage": realised["label_coverage"],
        "label_shares": class_shares(labels),
    }


def _json_scalar(value: object) -> object:
    # Training may hand over numpy scalars (np.float32 is not JSON) or NaN (not strict JSON).
    value = plain(value)
    return as_float(value) if isinstance(value, float) else value
