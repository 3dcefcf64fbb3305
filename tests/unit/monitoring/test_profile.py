"""The reference profile: format, sizes, JSON round trip."""

import json

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.columns import OTHER
from mlcycle.monitoring.profile import PROFILE_FORMAT, build_reference_profile

from .helpers import CLASSES, one_hot_proba

KINDS = {"n": "numeric", "few": "numeric", "c": "categorical", "d": "datetime"}


def reference(rows: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    countries = rng.choice(["NL", "DE", "FR", "ES"], rows, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    countries[: rows // 10] = None
    return pd.DataFrame(
        {
            "n": rng.exponential(10, rows),
            "few": rng.integers(0, 3, rows),
            "c": countries,
            "d": pd.date_range("2020-01-01", periods=rows, freq="h"),
        }
    )


def build(features, **kwargs):
    predicted = np.resize(CLASSES, len(features))
    return build_reference_profile(
        features, KINDS, one_hot_proba(predicted, confidence=0.8), **kwargs
    )


def test_numeric_feature_profile():
    features = reference()
    profile = build(features)
    n = profile["features"]["n"]
    values = features["n"].to_numpy()
    assert profile["format"] == PROFILE_FORMAT and profile["row_count"] == 3000
    assert (n["non_null_count"], n["null_rate"], n["n_unique"]) == (3000, 0.0, 3000)
    assert n["std"] == pytest.approx(values.std()) and n["mean"] == pytest.approx(values.mean())
    assert len(n["bin_edges"]) == 9 and len(n["bin_shares"]) == 10
    assert sum(n["bin_shares"]) == pytest.approx(1.0) and max(n["bin_shares"]) < 0.11
    assert set(n) == {
        "kind",
        "null_rate",
        "non_null_count",
        "n_unique",
        "mean",
        "std",
        "min",
        "max",
        "bin_edges",
        "bin_shares",
    }


def test_low_cardinality_numeric_gets_a_bin_per_value():
    features = reference()
    few = build(features)["features"]["few"]
    shares = features["few"].value_counts(normalize=True).sort_index()
    # the lowest edge is the smallest value itself: the bin below it stays empty
    assert few["bin_edges"] == [0.0, 1.0, 2.0]
    assert few["bin_shares"] == pytest.approx([0.0, *shares])


def test_categorical_shares_keep_the_top_categories_and_the_rest_in_other():
    c = build(reference(), max_categories=2)["features"]["c"]
    assert c["null_rate"] == pytest.approx(0.1) and c["n_unique"] == 4
    assert list(c["shares"]) == ["NL", "DE", OTHER]
    assert sum(c["shares"].values()) == pytest.approx(1.0)
    assert c["shares"][OTHER] == pytest.approx(0.3, abs=0.03)


def test_predictions_and_reference_performance():
    features = reference(6)
    labels = pd.Series(["booked", "cancelled", "booked", np.nan, "cancelled", "fulfilled"])
    holdout = {"accuracy": np.float32(0.5), "rows": np.int64(120), "log_loss": float("nan")}
    profile = build(features, labels=labels, holdout_metrics=holdout)
    predictions = profile["predictions"]
    assert predictions["classes"] == CLASSES
    assert predictions["class_shares"] == pytest.approx({c: 1 / 3 for c in CLASSES})
    assert predictions["mean_confidence"] == pytest.approx(0.8)
    # predicted booked, cancelled, fulfilled, booked, cancelled, fulfilled: 4 of 5 labelled right
    assert profile["reference_performance"]["accuracy"] == pytest.approx(0.8)
    assert profile["reference_performance"]["label_coverage"] == pytest.approx(5 / 6)
    assert profile["holdout_metrics"] == {"accuracy": 0.5, "rows": 120, "log_loss": None}


def test_profile_survives_a_json_round_trip_unchanged():
    features = reference()
    features.loc[:10, "n"] = np.nan
    profile = build(features, labels=pd.Series(np.resize(CLASSES, 3000)))
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


def test_empty_columns_and_labels_only_plugins_are_profiled():
    features = pd.DataFrame(
        {"n": [np.nan] * 3, "few": [1, 2, 3], "c": [None] * 3, "d": pd.to_datetime([None] * 3)}
    )
    profile = build_reference_profile(features, KINDS, None, predicted=pd.Series(["b", "a", "b"]))
    assert profile["features"]["n"] == {"kind": "numeric", "null_rate": 1.0, "non_null_count": 0}
    assert profile["features"]["c"]["shares"] == {}
    assert profile["features"]["d"] == {"kind": "datetime", "null_rate": 1.0, "non_null_count": 0}
    assert profile["predictions"]["classes"] == ["a", "b"]
    assert profile["predictions"]["mean_confidence"] is None


@pytest.mark.parametrize(
    "kinds, message", [({"missing": "numeric"}, "missing"), ({"n": "text"}, "unknown kinds")]
)
def test_a_profile_with_holes_is_refused(kinds, message):
    with pytest.raises(ValueError, match=message):
        build_reference_profile(reference(10), kinds, one_hot_proba(["booked"] * 10))


def test_labels_only_plugin_arrays_are_accepted():
    features = reference(4)
    labels = np.array(["a", "b", "b", None], dtype=object)
    predicted = np.array(["a", "b", "a", "a"], dtype=object)
    profile = build_reference_profile(features, KINDS, None, labels=labels, predicted=predicted)
    assert profile["predictions"]["class_shares"] == {"a": 0.75, "b": 0.25}
    assert profile["reference_performance"]["accuracy"] == pytest.approx(2 / 3)
