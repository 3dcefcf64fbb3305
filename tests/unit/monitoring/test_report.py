"""The batch report and its headline metrics."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.metrics import REPORTED
from mlcycle.monitoring.report import build_report, headline_metrics

from .helpers import CLASSES, one_hot_proba, profile_of

KINDS = {"n": "numeric", "country_code": "categorical", "d": "datetime"}
CONTRACTS = Path(__file__).resolve().parents[3] / "docs" / "CONTRACTS.md"
NEEDS_LABELS = {
    "RealisedAccuracy",
    "RealisedMacroF1",
    "AccuracyGap",
    "RealisedPositiveRate",
    "PositiveRateGap",
}
HEADLINE = {m.name for m in REPORTED}


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


def report_of(profile, proba, predicted=None, labels=None, rows=6):
    return build_report(
        "2024-05-01",
        "HotelCancel",
        "3",
        batch(rows, 1),
        KINDS,
        proba,
        predicted,
        labels,
        profile,
        join_coverage=0.9,
        schema_violations=1,
        positive_class="cancelled",
    )


PREDICTED = ["booked", "cancelled", "cancelled", "fulfilled", "booked", "booked"]
LABELS = pd.Series(["booked", "cancelled", "booked", np.nan, np.nan, "booked"])


def test_report_is_strict_json_and_every_headline_metric_is_a_contract_metric(profile):
    report = report_of(profile, one_hot_proba(PREDICTED, confidence=0.8), labels=LABELS)
    json.dumps(report, allow_nan=False)
    contract_names = set(re.findall(r"\b[A-Z][A-Za-z0-9]+\b", CONTRACTS.read_text()))
    assert HEADLINE <= contract_names
    assert set(headline_metrics(report)) == HEADLINE


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


def test_metrics_that_need_labels_are_omitted_not_zero_before_labels_arrive(profile):
    report = report_of(profile, one_hot_proba(PREDICTED))
    metrics = headline_metrics(report)
    assert HEADLINE - set(metrics) == NEEDS_LABELS
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
        "feature_drift": {"drifted_share": True},
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
