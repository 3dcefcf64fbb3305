"""One monitoring report per batch, and the headline numbers that go to CloudWatch.

The report is the full story (JSON, stored per batch); the headline metrics are the few
numbers alarms and the dashboard watch. Both come from the same computation so they can
never disagree, and the drift sections carry the tests the rules judged the batch by, so
the report cannot call a feature drifted that the rules did not.
"""

from __future__ import annotations

import pandas as pd

from .business import business_kpis
from .columns import as_float, as_series, class_shares, predicted_labels
from .metrics import REPORTED
from .performance import estimated_performance, labelled_mask, realised_performance
from .quality import data_quality

REPORT_FORMAT = "mlcycle.monitoring_report/1"
NOT_JUDGED = "not judged by the drift rules: the batch or its model version predates them"


def build_report(
    batch_id: str,
    model_name: str,
    model_version: str,
    features: pd.DataFrame,
    feature_kinds: dict[str, str],
    proba: pd.DataFrame | None,
    predicted: pd.Series | None,
    labels: pd.Series | None,
    profile: dict,
    join_coverage: float | None,
    schema_violations: int = 0,
    positive_class: str | None = None,
    *,
    expected_rows: int | None = None,
    segment_column: str | None = None,
    drift: dict | None = None,
) -> dict:
    """Everything the monitor knows about one batch, as one JSON-serialisable dict.

    ``predicted`` may be None when ``proba`` is given (the arg-max is used); ``proba`` is
    None for a labels-only plug-in, and the confidence-based sections then say so in
    ``skipped``. ``labels`` (NaN where not yet known) and ``predicted`` (arrays or Series)
    align with the rows of ``features`` by position. The report holds no timestamp: the
    caller adds one, and the same inputs always give the same report. ``expected_rows`` is
    the batch volume VolumeRatio compares with (default: the reference's row count).
    ``positive_class`` and ``segment_column`` are the model config's business words (the
    class whose rate the business tracks, the column whose top values it splits volume by).
    ``drift`` is the drift summary of the batch's judgement (``judge(...)["drift"]``); the
    drift sections say unavailable without one.
    """
    predicted, labels = as_series(predicted), as_series(labels)
    if predicted is None:
        if proba is None:
            raise ValueError("build_report needs proba or predicted labels")
        predicted = predicted_labels(proba)
    if len(predicted) != len(features):
        raise ValueError(
            f"{len(features)} feature rows but {len(predicted)} predictions: "
            "they must align row by row"
        )
    classes = profile["predictions"]["classes"]
    performance = _performance(proba, predicted, labels, classes, profile)
    report = {
        "format": REPORT_FORMAT,
        "batch_id": batch_id,
        "model_name": model_name,
        "model_version": model_version,
        "quality": data_quality(features, feature_kinds, profile, join_coverage, schema_violations),
        "feature_drift": _feature_drift(drift),
        "prediction_drift": _prediction_drift(drift, predicted, profile),
        "performance": performance,
        "business": business_kpis(
            proba if proba is not None else predicted,
            labels,
            profile,
            positive_class,
            expected_rows,
            features,
            segment_column,
        ),
    }
    report["skipped"] = _skipped(report, positive_class)
    return report


def headline_metrics(report: dict) -> dict[str, float]:
    """The CloudWatch metrics of a report; a metric that could not be computed is left out.

    Omitting beats publishing 0: "no labels yet" must not look like "accuracy fell to 0"
    to an alarm (alarms treat missing data as not breaching).
    """
    metrics: dict[str, float] = {}
    for metric in REPORTED:
        value: object = report
        for key in metric.path or ():
            value = value.get(key) if isinstance(value, dict) else None
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and as_float(value) is not None
        ):
            metrics[metric.name] = float(value)
    return metrics


def _feature_drift(drift: dict | None) -> dict:
    if drift is None:
        return {"available": False, "reason": NOT_JUDGED}
    columns = drift["columns"]
    psis = {name: c["psi"] for name, c in columns.items() if c["tested"]}
    worst = max(psis, key=psis.__getitem__) if psis else None
    return {
        "available": True,
        "method": "chi_square_holm",
        "basis": drift["basis"],
        "columns": columns,
        "tested_features": drift["tested"],
        "drifted_features": drift["drifted"],
        "max_psi": psis[worst] if worst is not None else None,
        "max_psi_feature": worst,
    }


def _prediction_drift(drift: dict | None, predicted: pd.Series, profile: dict) -> dict:
    if drift is None:
        return {"available": False, "reason": NOT_JUDGED}
    test = drift["prediction"]
    if test is None or not test["tested"]:
        reason = test["reason"] if test else "no predicted classes"
        return {"available": False, "reason": f"predicted classes not tested: {reason}"}
    return {
        "available": True,
        "method": "chi_square",
        "p_value": test["p_value"],
        "psi": test["psi"],
        "drifted": test["drifted"],
        "class_shares": class_shares(predicted),
        "reference_class_shares": profile["predictions"]["class_shares"],
    }


def _performance(
    proba: pd.DataFrame | None,
    predicted: pd.Series,
    labels: pd.Series | None,
    classes: list,
    profile: dict,
) -> dict:
    estimated = estimated_performance(proba)
    realised = realised_performance(predicted, labels, classes)
    on_labelled = None
    if estimated["available"] and realised["available"]:
        # The estimate is compared on the rows that have labels, so a partly labelled batch
        # measures calibration rather than the difference between two row sets.
        assert proba is not None  # estimated_performance is unavailable without proba
        on_labelled = estimated_performance(proba[labelled_mask(predicted, labels)]).get(
            "expected_accuracy"
        )
    gap = on_labelled - realised["accuracy"] if on_labelled is not None else None
    return {
        "estimated": estimated,
        "realised": realised,
        "estimated_accuracy_on_labelled": on_labelled,
        "accuracy_gap": as_float(gap),
        "reference": {
            "mean_confidence": profile["predictions"].get("mean_confidence"),
            "realised": profile.get("reference_performance"),
            "holdout_metrics": profile.get("holdout_metrics", {}),
        },
    }


def _skipped(report: dict, positive_class: str | None) -> list[str]:
    """Human-readable reasons for every section or KPI that could not be computed."""
    sections = {
        "feature_drift": report["feature_drift"],
        "prediction_drift": report["prediction_drift"],
        "estimated_performance": report["performance"]["estimated"],
        "realised_performance": report["performance"]["realised"],
    }
    skipped = [
        f"{name}: {section['reason']}"
        for name, section in sections.items()
        if not section["available"]
    ]
    if report["business"]["predicted_positive_rate"] is None:
        skipped.append(
            f"predicted_positive_rate: no probability or prediction of class {positive_class!r}"
            if positive_class
            else "predicted_positive_rate: the config names no positive_class"
        )
    return skipped
