"""The drift rules: a batch's binned counts against the baseline, column by column.

The baseline is the reference profile's bins at registration, or the pooled counts of the
window's batches without drift once there are enough of them (so a seasonal feature is
compared with recent weeks, not with last year). The tests themselves are in
``homogeneity``; a drifted column only warns, and is named as the likely cause of a trip.
"""

from __future__ import annotations

import numpy as np

from . import homogeneity
from . import window as windows
from .batchstats import BatchStats
from .limits import Version
from .rules import OK, WARN, Settings


def _reference_counts(section: dict) -> dict[str, np.ndarray]:
    counts = {}
    for name, ref in section.items():
        rows = ref.get("non_null_count", 0)
        if ref["kind"] == "numeric" and "bin_shares" in ref:
            counts[name] = np.asarray(ref["bin_shares"], dtype="float64") * rows
        elif ref["kind"] == "categorical":
            shares = ref.get("shares", {})
            known = [k for k in shares if k != "__other__"]
            counts[name] = np.array([shares[k] for k in known] + [shares.get("__other__", 0.0)])
            counts[name] = counts[name] * rows
    return counts


def drift_verdicts(
    model: Version, stats: BatchStats, window: dict, settings: Settings, batch_id: str
) -> dict:
    """Feature drift (typed features and model inputs together) and prediction drift."""
    version, profile = model.name, model.profile
    baseline = windows.pooled(window, "counts", version, batch_id, settings.min_window)
    inputs_base = windows.pooled(window, "inputs_counts", version, batch_id, settings.min_window)
    basis = "window" if baseline is not None else "reference"
    baseline = baseline or _reference_counts(profile["features"])
    inputs_base = inputs_base or _reference_counts(profile.get("model_inputs") or {})
    columns = {**stats.counts, **{f"model:{k}": v for k, v in stats.inputs_counts.items()}}
    reference = {**baseline, **{f"model:{k}": v for k, v in inputs_base.items()}}
    feature = settings.rule("FeatureDrift")
    features = homogeneity.drift_tests(
        reference, columns, settings.drift_alpha, feature.min_effect, settings.drift_min_count
    )
    classes = list(model.layout.classes)
    current_classes = np.array([stats.classes.get(c, 0) for c in classes], dtype="float64")
    pooled = windows.pooled(window, "classes", version, batch_id, settings.min_window)
    if pooled is not None:
        base_classes = np.array([pooled.get(c, [0.0])[0] for c in classes])
    else:
        shares = profile["predictions"]["class_shares"]
        base_classes = np.array([shares.get(c, 0.0) for c in classes]) * profile["row_count"]
    prediction = settings.rule("PredictionDrift")
    predicted = homogeneity.drift_tests(
        {"class": base_classes},
        {"class": current_classes},
        settings.drift_alpha,
        prediction.min_effect,
        settings.drift_min_count,
    )
    return {
        "summary": {"basis": basis, **features, "prediction": predicted["columns"].get("class")},
        "verdicts": {
            "FeatureDrift": _drift_verdict("FeatureDrift", features),
            "PredictionDrift": _drift_verdict("PredictionDrift", predicted),
        },
    }


def _drift_verdict(rule: str, tests: dict) -> dict:
    drifted = tests["drifted"]
    return {
        "rule": rule,
        "family": "drift",
        "value": float(len(drifted)),
        "level": WARN if drifted else OK,
        "reason": f"drifted: {', '.join(drifted)}" if drifted else "no column drifted",
        "columns": drifted,
    }
