"""The monitoring library on the original assignment's data (skipped when it is absent).

Its shape is the point: a left join leaves country_code missing for 79% of training rows and
for every test row, so a sparse reference column and a batch column without values are real
here.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.profile import build_reference_profile
from mlcycle.monitoring.report import build_report, headline_metrics

from .helpers import judge_of

VIO_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "vio-data"
KINDS = {
    "day_distance": "numeric",
    "length_of_stay": "numeric",
    "country_code": "categorical",
    "date": "datetime",
    "check_in": "datetime",
    "check_out": "datetime",
}
CLASSES = ["booked", "cancelled", "fulfilled"]

pytestmark = pytest.mark.skipif(not VIO_DATA.is_dir(), reason=f"{VIO_DATA} not present")


def joined(split: str) -> tuple[pd.DataFrame, pd.Series]:
    bookings = pd.read_csv(
        VIO_DATA / f"{split}_A.csv",
        dtype={"hotel_id": str},
        parse_dates=["date", "check_in", "check_out"],
    )
    hotels = pd.read_csv(VIO_DATA / f"{split}_B.csv", dtype={"hotel_id": str})
    rows = bookings.merge(hotels, on="hotel_id", how="left")
    return rows[list(KINDS)], rows["status"]


def prior_proba(rows: int) -> pd.DataFrame:
    # The labels are random: the class prior is the best any model can do here.
    return pd.DataFrame(np.tile([0.34, 0.33, 0.33], (rows, 1)), columns=CLASSES)


def test_training_profile_and_test_batch_report():
    features, labels = joined("train")
    proba = prior_proba(len(features))
    profile = build_reference_profile(features, KINDS, proba, labels)
    json.dumps(profile, allow_nan=False)
    judged = judge_of(profile, features, proba, labels, "cancelled")

    batch, batch_labels = joined("test")
    result = judged(batch, np.full(len(batch), "booked"), prior_proba(len(batch)))
    report = build_report(
        "test",
        "YourNewModel",
        "1",
        batch,
        KINDS,
        prior_proba(len(batch)),
        None,
        batch_labels,
        profile,
        join_coverage=0.0,
        schema_violations=0,
        drift=result["drift"],
    )
    json.dumps(report, allow_nan=False)
    drift = report["feature_drift"]["columns"]
    assert profile["features"]["country_code"]["non_null_count"] < 1000  # 79% missing
    assert drift["day_distance"]["tested"] and drift["day_distance"]["rows"] == 100
    assert drift["country_code"] == {  # no test row found its hotel
        "tested": False,
        "rows": 0,
        "reason": "fewer than 30 values",
    }
    assert report["prediction_drift"]["psi"] == 0.0  # "booked" on both sides
    assert report["quality"]["null_rate"]["country_code"] == 1.0
    metrics = headline_metrics(report)
    assert metrics["RowCount"] == 100 and metrics["LabelCoverage"] == 1.0
    assert metrics["EstimatedAccuracy"] == pytest.approx(0.34)
