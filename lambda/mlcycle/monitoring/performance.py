"""Model performance: estimated before labels exist, realised once they arrive.

Labels for a booking arrive weeks after the prediction, so the monitor first estimates
accuracy from the probabilities alone (NannyML's CBPE idea): if the model is calibrated, a
row predicted with confidence 0.8 is right 80% of the time, so the expected accuracy of a
batch is the mean of each row's largest probability. The estimate is only as good as the
calibration, which is why it is later compared with the realised accuracy (AccuracyGap).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .columns import as_float, plain, ratio


def estimated_performance(proba: pd.DataFrame | None) -> dict:
    """Label-free expected accuracy and expected class shares, assuming calibration.

    ``expected_class_shares`` (mean probability per class) is the calibrated model's
    estimate of how the true labels will split. Rows with a missing probability are left out.
    """
    if proba is None:
        return {
            "available": False,
            "reason": "the plug-in returned labels only: confidence-based metrics skipped",
        }
    values = proba.to_numpy(dtype="float64", na_value=np.nan)
    values = values[~np.isnan(values).any(axis=1)]
    if len(values) == 0:
        return {"available": False, "reason": "no rows with probabilities"}
    expected = values.mean(axis=0)
    return {
        "available": True,
        "rows": len(values),
        "expected_accuracy": as_float(values.max(axis=1).mean()),
        "expected_class_shares": {
            str(label): as_float(share)
            for label, share in zip(proba.columns, expected, strict=False)
        },
    }


def realised_performance(predicted: pd.Series, labels: pd.Series | None, classes: list) -> dict:
    """Accuracy, macro-F1 and per-class recall on the rows that have a label.

    Macro-F1 averages over the classes present in the labels or the predictions of these
    rows (scikit-learn's default), because in a small or partially labelled batch a class
    may be absent on both sides and its F1 is undefined, not 0. Recall is None for a class
    with no labelled rows. Labels outside ``classes`` are kept as extra classes so a bad
    label is counted as a miss, never dropped silently.
    """
    rows = len(predicted)
    labelled = labelled_mask(predicted, labels)
    labelled_rows = int(labelled.sum())
    result = {
        "rows": rows,
        "labelled_rows": labelled_rows,
        "label_coverage": ratio(labelled_rows, rows),
    }
    if labelled_rows == 0:
        return {"available": False, "reason": "no labelled rows yet", **result}
    assert labels is not None  # labelled_mask is all False without labels

    truth, guess = labels[labelled], predicted[labelled]
    categories = list(classes) + _extra_classes(classes, truth, guess)
    k = len(categories)
    truth_codes = pd.Categorical(truth, categories=categories).codes.astype("int64")
    guess_codes = pd.Categorical(guess, categories=categories).codes.astype("int64")
    confusion = np.bincount(truth_codes * k + guess_codes, minlength=k * k).reshape(k, k)

    hits = np.diag(confusion)
    true_counts, predicted_counts = confusion.sum(axis=1), confusion.sum(axis=0)
    present = (true_counts + predicted_counts) > 0
    f1 = 2 * hits[present] / (true_counts[present] + predicted_counts[present])
    recall = {str(label): ratio(hits[i], true_counts[i]) for i, label in enumerate(categories)}
    return {
        "available": True,
        **result,
        "accuracy": as_float(hits.sum() / labelled_rows),
        "macro_f1": as_float(f1.mean()),
        "recall": recall,
        "support": {str(label): int(true_counts[i]) for i, label in enumerate(categories)},
        "unknown_labels": [plain(label) for label in categories[len(classes) :]],
    }


def labelled_mask(predicted: pd.Series, labels: pd.Series | None) -> np.ndarray:
    """Rows with both a label and a prediction; labels align with predictions by position."""
    if labels is None:
        return np.zeros(len(predicted), dtype=bool)
    if len(labels) != len(predicted):
        raise ValueError(
            f"labels has {len(labels)} rows, predictions {len(predicted)}: "
            "they must align row by row"
        )
    return labels.notna().to_numpy() & predicted.notna().to_numpy()


def _extra_classes(classes: list, *columns: pd.Series) -> list:
    known = set(classes)
    extra = {plain(value) for column in columns for value in column.unique() if value not in known}
    return sorted(extra, key=str)
