"""Feature and prediction drift: test selection, values against scipy, edge cases, end to end."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlcycle.monitoring import distances
from mlcycle.monitoring.drift import feature_drift, prediction_drift

from .helpers import one_hot_proba, profile_of

NUMERIC = {"x": "numeric"}
CATEGORICAL = {"c": "categorical"}


def drift_of(reference: pd.DataFrame, batch: pd.DataFrame, kinds: dict) -> dict:
    return feature_drift(batch, kinds, profile_of(reference, kinds))


def continuous(rows: int, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"x": np.random.default_rng(seed).normal(shift, 1.0, rows)})


@pytest.mark.parametrize("reference_rows, method", [(1000, "ks"), (1001, "wasserstein_normed")])
def test_numeric_method_switches_after_1000_reference_rows(reference_rows, method):
    result = drift_of(continuous(reference_rows), continuous(500, seed=1), NUMERIC)
    assert result["features"]["x"]["method"] == method


def test_reference_row_count_is_counted_without_missing_values():
    reference = continuous(1500)
    reference.loc[:499, "x"] = np.nan  # 1000 non-missing values left: the small branch
    assert drift_of(reference, continuous(500, seed=1), NUMERIC)["features"]["x"]["method"] == "ks"


@pytest.mark.parametrize("reference_rows, method", [(1000, "chi_square"), (1001, "jensen_shannon")])
def test_categorical_method_switches_after_1000_reference_rows(reference_rows, method):
    reference = pd.DataFrame({"c": np.resize(["a", "b", "c"], reference_rows)})
    result = drift_of(reference, pd.DataFrame({"c": ["a", "b"] * 50}), CATEGORICAL)
    assert result["features"]["c"]["method"] == method


@pytest.mark.parametrize(
    "distinct, small_method, large_method",
    [
        (5, "chi_square", "jensen_shannon"),
        (6, "ks", "wasserstein_normed"),
    ],
)
def test_numeric_with_at_most_5_distinct_values_is_compared_as_categories(
    distinct, small_method, large_method
):
    for rows, method in ((600, small_method), (3000, large_method)):
        reference = pd.DataFrame({"x": np.resize(np.arange(distinct), rows)})
        batch = pd.DataFrame({"x": np.resize(np.arange(distinct), 400)})
        assert drift_of(reference, batch, NUMERIC)["features"]["x"]["method"] == method


def test_distinct_values_are_counted_over_reference_and_batch_together():
    reference = pd.DataFrame({"x": np.resize(np.arange(5), 600)})
    batch = pd.DataFrame({"x": np.resize(np.arange(1, 7), 400)})  # brings 5 and 6: 7 in total
    assert drift_of(reference, batch, NUMERIC)["features"]["x"]["method"] == "ks"


def test_ks_p_value_is_scipys_on_the_full_small_reference():
    reference, batch = continuous(800), continuous(300, seed=1, shift=0.2)
    result = drift_of(reference, batch, NUMERIC)["features"]["x"]
    expected = stats.ks_2samp(reference["x"], batch["x"])
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["drifted"] == (expected.pvalue < 0.05)


def test_chi_square_p_value_is_scipys_two_sample_test_on_reference_and_batch_counts():
    reference = pd.DataFrame({"c": ["a"] * 300 + ["b"] * 200})
    batch = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50})
    result = drift_of(reference, batch, CATEGORICAL)["features"]["c"]
    # __other__ is empty on both sides, so it is not part of the table
    expected = stats.chi2_contingency([[300, 200], [50, 50]], correction=False)
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["drifted"] == (expected.pvalue < 0.05)


def test_wasserstein_uses_the_profile_quantiles_and_stays_close_to_scipy_on_full_data():
    reference, batch = continuous(20_000), continuous(5_000, seed=1, shift=0.05)
    profile = profile_of(reference, NUMERIC)
    result = feature_drift(batch, NUMERIC, profile)["features"]["x"]
    stand_in = stats.wasserstein_distance(profile["features"]["x"]["quantiles"], batch["x"])
    assert result["distance"] == pytest.approx(stand_in / reference["x"].std(ddof=0))
    full = stats.wasserstein_distance(reference["x"], batch["x"]) / reference["x"].std(ddof=0)
    assert result["distance"] == pytest.approx(full, abs=0.005)


@pytest.mark.parametrize("shift, drifted", [(0.06, False), (0.14, True)])
def test_wasserstein_drift_threshold_is_a_tenth_of_the_reference_std(shift, drifted):
    result = drift_of(continuous(20_000), continuous(20_000, seed=1, shift=shift), NUMERIC)[
        "features"
    ]["x"]
    assert result["distance"] == pytest.approx(shift, abs=0.03)
    assert result["drifted"] is drifted


def test_jensen_shannon_for_categorical_is_scipys_on_the_shares():
    reference = pd.DataFrame({"c": ["a"] * 1500 + ["b"] * 500})
    batch = pd.DataFrame({"c": ["a"] * 100 + ["b"] * 300})
    result = drift_of(reference, batch, CATEGORICAL)["features"]["c"]
    # support a, b, __other__
    assert result["distance"] == pytest.approx(jensenshannon([0.75, 0.25, 0.0], [0.25, 0.75, 0.0]))
    assert result["drifted"] is True


def test_feature_psi_matches_hand_computation():
    reference = pd.DataFrame({"x": [0] * 50 + [1] * 50})  # bins (-inf, 0) [0, 1) [1, inf)
    batch = pd.DataFrame({"x": [0] * 25 + [1] * 75})
    result = drift_of(reference, batch, NUMERIC)
    # first bin empty on both sides: 0; then (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5)
    assert result["features"]["x"]["psi"] == pytest.approx(0.274653, abs=1e-6)
    assert result["features"]["x"]["psi_level"] == "alert"
    assert result["max_psi"] == pytest.approx(0.274653, abs=1e-6)
    assert result["max_psi_feature"] == "x"


def test_unseen_categories_move_mass_to_other_and_count_as_drift():
    reference = pd.DataFrame({"c": ["a", "b"] * 250})
    batch = pd.DataFrame({"c": ["a", "b"] * 45 + ["new"] * 10})
    result = drift_of(reference, batch, CATEGORICAL)["features"]["c"]
    assert result["method"] == "chi_square"
    expected = stats.chi2_contingency([[250, 250, 0], [45, 45, 10]], correction=False)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["drifted"] is True
    expected_psi = distances.psi([0.5, 0.5, 0.0], [0.45, 0.45, 0.1])
    assert result["psi"] == pytest.approx(expected_psi)


def test_untestable_columns_are_reported_and_left_out_of_the_share():
    kinds = {
        "x": "numeric",
        "empty": "numeric",
        "c": "categorical",
        "gone": "numeric",
        "when": "datetime",
    }
    reference = pd.DataFrame(
        {
            "x": np.arange(200.0),
            "empty": np.arange(200.0),
            "c": ["a"] * 200,
            "gone": np.arange(200.0),
            "when": pd.date_range("2020-01-01", periods=200),
        }
    )
    batch = pd.DataFrame(
        {
            "x": np.arange(100.0) + 1000,
            "empty": [np.nan] * 100,
            "c": [None] * 100,
            "when": pd.date_range("2024-01-01", periods=100),
        }
    )
    result = feature_drift(batch, kinds, profile_of(reference, kinds))
    assert [name for name, r in result["features"].items() if r["tested"]] == ["x"]
    assert "time always moves" in result["features"]["when"]["reason"]
    assert "missing from the batch" in result["features"]["gone"]["reason"]
    changed = feature_drift(batch, {"c": "numeric"}, profile_of(reference, kinds))["features"]["c"]
    assert changed["tested"] is False and "categorical -> numeric" in changed["reason"]
    assert result["drifted_features"] == ["x"]
    assert result["drifted_share"] == 1.0


@pytest.mark.parametrize("reference_rows", [600, 20_000])
def test_a_clean_batch_does_not_drift_and_a_shifted_one_does(reference_rows):
    kinds = {"x": "numeric", "n": "numeric", "c": "categorical"}

    def sample(rows, seed, shift=0.0, mix=(0.5, 0.3, 0.2)):
        rng = np.random.default_rng(seed)
        return pd.DataFrame(
            {
                "x": rng.normal(shift, 1.0, rows),
                "n": rng.poisson(4 + 4 * shift, rows),
                "c": rng.choice(["a", "b", "c"], rows, p=mix),
            }
        )

    profile = profile_of(sample(reference_rows, 0), kinds)
    clean = feature_drift(sample(2000, 1), kinds, profile)
    shifted = feature_drift(sample(2000, 2, shift=0.5, mix=(0.2, 0.3, 0.5)), kinds, profile)
    assert clean["drifted_share"] == 0.0 and clean["max_psi"] < 0.1
    assert shifted["drifted_share"] == 1.0 and shifted["max_psi"] >= 0.25


def test_prediction_drift_is_jensen_shannon_of_predicted_class_shares():
    reference = pd.DataFrame({"x": np.arange(4.0)})
    profile = profile_of(
        reference, NUMERIC, predicted=["booked", "booked", "cancelled", "cancelled"]
    )
    result = prediction_drift(one_hot_proba(["booked"] * 3), profile)
    # reference (0.5, 0.5) vs batch (1, 0): sqrt((0.143841 + 0.287682) / 2)
    assert result["distance"] == pytest.approx(0.464502, abs=1e-6)
    assert result["class_shares"] == {"booked": 1.0}


def test_prediction_drift_uses_given_labels_and_counts_new_classes():
    profile = profile_of(pd.DataFrame({"x": [1.0, 2.0]}), NUMERIC, predicted=["booked", "booked"])
    result = prediction_drift(None, profile, predicted=pd.Series(["booked", "noshow"]))
    assert result["distance"] == pytest.approx(jensenshannon([1.0, 0.0], [0.5, 0.5]))
    assert prediction_drift(None, profile)["available"] is False
