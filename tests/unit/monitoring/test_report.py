"""The batch report and its headline metrics."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.metrics import REPORTED
from mlcycle.monitoring.report import NOT_JUDGED, build_report, headline_metrics

from .helpers import CLASSES, judge_of, one_hot_proba, profile_of

KINDS = {"n": "numeric", "country_code": "categorical", "d": "datetime"}
CONTRACTS = Path(__file__).resolve().parents[3] / "docs" / "CONTRACTS.md"
NEEDS_LABELS = {
    "RealisedAccuracy",
    "RealisedMacroF1",
    "AccuracyGap",
    "RealisedPositiveRate",
    "PositiveRateGap",
}
NEEDS_DRIFT_TESTS = {"MaxPSI", "PredictionDrift"}
HEADLINE = {m.name for m in REPORTED}
NEEDS_RULES = {"EstimatedAccuracyStdErr"}  # the monitor adds it from the rules' calibration
# A drift summary as judge(...)["drift"] gives it; a model input drifted, the features not.
SUMMARY = {
    "basis": "reference",
    "columns": {
        "n": {
            "tested": True,
            "rows": 600,
            "bins": 10,
            "statistic": 9.1,
            "p_value": 0.43,
            "p_adjusted": 0.86,
            "psi": 0.02,
            "drifted": False,
        },
        "model:n_scaled": {
            "tested": True,
            "rows": 600,
            "bins": 10,
            "statistic": 240.0,
            "p_value": 1e-40,
            "p_adjusted": 2e-40,
            "psi": 0.41,
            "drifted": True,
        },
        "country_code": {"tested": False, "rows": 12, "reason": "fewer than 30 values"},
    },
    "tested": 2,
    "drifted": ["model:n_scaled"],
    "prediction": {
        "tested": True,
        "rows": 600,
        "bins": 3,
        "statistic": 1.2,
        "p_value": 0.55,
        "p_adjusted": 0.55,
        "psi": 0.03,
        "drifted": False,
    },
}


def batch(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "n": rng.normal(size=rows),
            "country_code": rng.choice(["NL", "DE", None], rows),
            "d": pd.date_range("2022-01-01", periods=rows, freq="min"),
        }
    )


@pytest.fixture(scope="module")
def profile():
    statuses = np.resize(CLASSES, 2000)
    return profile_of(batch(2000, 0), KINDS, predicted=statuses, labels=pd.Series(statuses))


@pytest.fixture(scope="module")
def judged(profile):
    statuses = np.resize(CLASSES, 2000)
    return judge_of(
        profile, batch(2000, 0), one_hot_proba(statuses), pd.Series(statuses), "cancelled"
    )


def report_of(profile, proba, predicted=None, labels=None, rows=6, features=None, drift=None):
    return build_report(
        "2024-05-01",
        "HotelCancel",
        "3",
        batch(rows, 1) if features is None else features,
        KINDS,
        proba,
        predicted,
        labels,
        profile,
        join_coverage=0.9,
        schema_violations=1,
        positive_class="cancelled",
        drift=drift,
    )


PREDICTED = ["booked", "cancelled", "cancelled", "fulfilled", "booked", "booked"]
LABELS = pd.Series(["booked", "cancelled", "booked", np.nan, np.nan, "booked"])


def test_report_is_strict_json_and_every_headline_metric_is_a_contract_metric(profile):
    report = report_of(
        profile, one_hot_proba(PREDICTED, confidence=0.8), labels=LABELS, drift=SUMMARY
    )
    json.dumps(report, allow_nan=False)
    contract_names = set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", CONTRACTS.read_text()))
    assert HEADLINE <= contract_names
    assert set(headline_metrics(report)) == HEADLINE - NEEDS_RULES


def test_headline_metrics_carry_the_report_values(profile):
    metrics = headline_metrics(
        report_of(profile, one_hot_proba(PREDICTED, confidence=0.8), labels=LABELS)
    )
    assert (
        metrics["RowCount"] == 6
        and metrics["JoinCoverage"] == 0.9
        and metrics["SchemaViolations"] == 1
    )
    assert metrics["EstimatedAccuracy"] == pytest.approx(0.8)
    # labelled rows 0, 1, 2, 5: predictions right on 0, 1, 5
    assert metrics["RealisedAccuracy"] == pytest.approx(0.75)
    assert metrics["LabelCoverage"] == pytest.approx(4 / 6)
    assert metrics["AccuracyGap"] == pytest.approx(0.8 - 0.75)
    # P(cancelled) is 0.8 on rows 1, 2 and 0.1 elsewhere
    assert metrics["PredictedPositiveRate"] == pytest.approx((2 * 0.8 + 4 * 0.1) / 6)
    assert metrics["RealisedPositiveRate"] == pytest.approx(0.25)
    assert metrics["VolumeRatio"] == pytest.approx(6 / 2000)


def test_the_drift_sections_are_the_tests_the_judge_ran(profile, judged):
    features = batch(600, 2)
    features["n"] += 1.0
    predicted = np.resize(["cancelled", "cancelled", "booked"], 600)
    proba = one_hot_proba(predicted, confidence=0.8)
    result = judged(features, predicted, proba)
    drift = result["drift"]
    report = report_of(profile, proba, predicted, features=features, drift=drift)
    json.dumps(report, allow_nan=False)

    feature = report["feature_drift"]
    assert (feature["method"], feature["basis"]) == ("chi_square_holm", "reference")
    assert feature["columns"] == drift["columns"]
    assert feature["tested_features"] == 2
    assert feature["drifted_features"] == result["verdicts"]["FeatureDrift"]["columns"] == ["n"]
    assert (feature["max_psi_feature"], feature["max_psi"]) == ("n", drift["columns"]["n"]["psi"])
    prediction = report["prediction_drift"]
    assert prediction["method"] == "chi_square"
    assert (prediction["p_value"], prediction["psi"]) == (
        drift["prediction"]["p_value"],
        drift["prediction"]["psi"],
    )
    assert prediction["drifted"] and "PredictionDrift" in result["warnings"]
    assert prediction["class_shares"] == pytest.approx({"cancelled": 2 / 3, "booked": 1 / 3})
    assert prediction["reference_class_shares"] == profile["predictions"]["class_shares"]
    metrics = headline_metrics(report)
    assert metrics["MaxPSI"] == feature["max_psi"]
    assert metrics["PredictionDrift"] == drift["prediction"]["psi"]
    assert "DriftedFeatureShare" not in metrics


def test_max_psi_is_over_the_tested_columns_model_inputs_included(profile):
    report = report_of(profile, one_hot_proba(PREDICTED), drift=SUMMARY)
    feature = report["feature_drift"]
    assert (feature["max_psi_feature"], feature["max_psi"]) == ("model:n_scaled", 0.41)
    assert feature["drifted_features"] == ["model:n_scaled"]
    assert headline_metrics(report)["MaxPSI"] == 0.41


def test_a_batch_too_small_for_the_class_test_says_so(profile, judged):
    predicted = np.array(PREDICTED)
    proba = one_hot_proba(PREDICTED)
    report = report_of(profile, proba, drift=judged(batch(6, 1), predicted, proba)["drift"])
    assert report["feature_drift"]["tested_features"] == 0
    assert report["feature_drift"]["max_psi"] is None
    assert report["prediction_drift"] == {
        "available": False,
        "reason": "predicted classes not tested: fewer than 30 values",
    }
    assert NEEDS_DRIFT_TESTS.isdisjoint(headline_metrics(report))


def test_a_batch_the_rules_never_judged_has_no_drift_sections(profile):
    report = report_of(profile, one_hot_proba(PREDICTED))
    unavailable = {"available": False, "reason": NOT_JUDGED}
    assert report["feature_drift"] == report["prediction_drift"] == unavailable
    assert f"feature_drift: {NOT_JUDGED}" in report["skipped"]
    assert f"prediction_drift: {NOT_JUDGED}" in report["skipped"]


def test_metrics_that_need_labels_are_omitted_not_zero_before_labels_arrive(profile):
    report = report_of(profile, one_hot_proba(PREDICTED))
    metrics = headline_metrics(report)
    assert HEADLINE - set(metrics) == NEEDS_LABELS | NEEDS_DRIFT_TESTS | NEEDS_RULES
    assert metrics["LabelCoverage"] == 0.0
    assert any("no labelled rows" in reason for reason in report["skipped"])


def test_a_labels_only_plugin_skips_confidence_metrics_and_says_so(profile):
    report = report_of(profile, None, predicted=pd.Series(PREDICTED), labels=LABELS)
    metrics = headline_metrics(report)
    assert "EstimatedAccuracy" not in metrics and "AccuracyGap" not in metrics
    assert metrics["PredictedPositiveRate"] == pytest.approx(2 / 6)
    assert any("labels only" in reason for reason in report["skipped"])
    json.dumps(report, allow_nan=False)


def test_headline_metrics_leave_out_undefined_values():
    report = {
        "quality": {"row_count": 0, "max_null_rate": None, "join_coverage": float("nan")},
        "feature_drift": {"max_psi": True},
    }
    assert headline_metrics(report) == {"RowCount": 0.0}


def test_predictions_that_do_not_align_with_the_features_are_refused(profile):
    with pytest.raises(ValueError, match="align"):
        report_of(profile, one_hot_proba(PREDICTED[:5]))


def test_plugin_arrays_are_accepted_for_predictions_and_labels(profile):
    report = report_of(
        profile, None, predicted=np.array(PREDICTED, dtype=object), labels=LABELS.to_numpy()
    )
    assert headline_metrics(report)["RealisedAccuracy"] == pytest.approx(0.75)
