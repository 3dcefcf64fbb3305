"""The one table of published metrics: CloudWatch name, where the report keeps it, which
direction means trouble, and the snake_case key model_config.yml uses for its alarm.

The monitor publishes the report's values under these names, thresholds resolve config keys
through it, and the demo and the dashboard read it rather than keeping lists of their own.

The drift metrics are the rules' own numbers: MaxPSI is the largest PSI of a tested column
(features and model inputs, on the bins the drift test used), PredictionDrift the PSI of
the predicted class shares (before the drift rules it was their Jensen-Shannon distance, so
a threshold set for that older scale needs revisiting).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    path: tuple[str, ...] | None  # None: published by another function (the breaker)
    direction: str  # "min": trouble when low; "max": trouble when high
    alarm_key: str  # model_config.yml `monitoring.alarms`: <alarm_key>_min / <alarm_key>_max


METRICS = (
    Metric("RowCount", ("quality", "row_count"), "min", "row_count"),
    Metric("JoinCoverage", ("quality", "join_coverage"), "min", "join_coverage"),
    Metric("MaxNullRate", ("quality", "max_null_rate"), "max", "max_null_rate"),
    Metric("SchemaViolations", ("quality", "schema_violations"), "max", "schema_violations"),
    Metric(
        "UnseenCategoryRate", ("quality", "unseen_category_rate"), "max", "unseen_category_rate"
    ),
    Metric("MaxPSI", ("feature_drift", "max_psi"), "max", "max_psi"),
    Metric("PredictionDrift", ("prediction_drift", "psi"), "max", "prediction_drift"),
    Metric(
        "EstimatedAccuracy",
        ("performance", "estimated", "expected_accuracy"),
        "min",
        "estimated_accuracy",
    ),
    Metric(
        "EstimatedAccuracyStdErr",
        ("performance", "estimated", "standard_error"),
        "max",
        "estimated_accuracy_std_err",
    ),
    Metric("RealisedAccuracy", ("performance", "realised", "accuracy"), "min", "realised_accuracy"),
    Metric("RealisedMacroF1", ("performance", "realised", "macro_f1"), "min", "realised_macro_f1"),
    Metric("LabelCoverage", ("performance", "realised", "label_coverage"), "min", "label_coverage"),
    Metric("AccuracyGap", ("performance", "accuracy_gap"), "max", "accuracy_gap"),
    Metric(
        "PredictedPositiveRate",
        ("business", "predicted_positive_rate"),
        "max",
        "predicted_positive_rate",
    ),
    Metric(
        "RealisedPositiveRate",
        ("business", "realised_positive_rate"),
        "max",
        "realised_positive_rate",
    ),
    Metric("PositiveRateGap", ("business", "positive_rate_gap"), "max", "positive_rate_gap"),
    Metric("VolumeRatio", ("business", "volume_ratio"), "min", "volume_ratio"),
    Metric("BreakerState", None, "max", "breaker_state"),
    Metric("BreakerStateInvalid", None, "max", "breaker_state_invalid"),
)
BY_NAME = {m.name: m for m in METRICS}
BY_ALARM_KEY = {m.alarm_key: m for m in METRICS}
REPORTED = tuple(m for m in METRICS if m.path is not None)
