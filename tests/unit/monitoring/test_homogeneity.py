"""Drift tests on binned counts: Holm, pooling of rare bins, false-alarm rate and power."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mlcycle.monitoring import distances, homogeneity
from mlcycle.monitoring.homogeneity import MIN_EXPECTED

ALPHA, MIN_EFFECT, MIN_COUNT = 0.001, 0.1, 30


def test_holm_against_a_hand_computation():
    adjusted = homogeneity.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    # sorted: a 0.01 * 3 = 0.03; c 0.03 * 2 = 0.06; b 0.04 * 1 = 0.04 -> kept monotone at 0.06
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06})


def test_holm_is_monotone_in_the_raw_p_values_and_capped_at_one():
    rng = np.random.default_rng(3)
    raw = {f"col{i}": float(p) for i, p in enumerate(rng.uniform(0, 0.5, 12))}
    adjusted = homogeneity.holm(raw)
    order = sorted(raw, key=raw.__getitem__)
    values = [adjusted[name] for name in order]
    assert values == sorted(values)
    assert all(adjusted[name] >= raw[name] for name in raw)
    assert max(values) == 1.0  # 12 * ~0.03 and above exceed one
    assert all(v <= 1.0 for v in values)
    assert homogeneity.holm({"only": 0.2}) == {"only": 0.2}
    assert homogeneity.holm({}) == {}


def test_grouped_pools_bins_the_batch_would_rarely_fill():
    reference = np.array([5000, 3000, 1000, 10, 5, 2, 1])
    current = np.array([500, 300, 100, 1, 0, 0, 1])
    ref, cur = homogeneity.grouped(reference, current)
    # expected in the batch: (ref + cur) / 9922 * 902 -> the last four are below MIN_EXPECTED
    assert ref.tolist() == [5000, 3000, 1000, 18]
    assert cur.tolist() == [500, 300, 100, 2]


def test_grouped_leaves_a_single_rare_bin_alone():
    reference = np.array([5000, 3000, 10])
    current = np.array([500, 300, 1])
    expected = (reference + current) / (reference.sum() + current.sum()) * current.sum()
    assert (expected < MIN_EXPECTED).sum() == 1
    ref, cur = homogeneity.grouped(reference, current)
    assert ref.tolist() == reference.tolist()
    assert cur.tolist() == current.tolist()


def test_column_test_agrees_with_scipy_on_grouped_bins():
    reference = np.array([400, 300, 200, 100])
    current = np.array([30, 40, 20, 10])
    result = homogeneity.column_test(reference, current, MIN_COUNT)
    expected = scipy_stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    assert result["tested"] is True
    assert result["rows"] == 100
    assert result["bins"] == 4
    assert result["statistic"] == pytest.approx(expected.statistic)
    assert result["p_value"] == pytest.approx(expected.pvalue)
    assert result["psi"] == pytest.approx(distances.psi(reference / 1000, current / 100))


def test_column_test_is_untested_below_min_count():
    result = homogeneity.column_test(np.array([500, 500]), np.array([29, 0]), 30)
    assert result["tested"] is False
    assert result["rows"] == 29
    assert "30" in result["reason"]
    assert homogeneity.column_test(np.array([500, 500]), np.array([30, 0]), 30)["tested"]
    assert not homogeneity.column_test(np.array([0, 0]), np.array([300, 0]), 30)["tested"]


def test_a_column_with_one_filled_bin_is_not_significant():
    result = homogeneity.column_test(np.array([1000, 0]), np.array([200, 0]), MIN_COUNT)
    assert result["p_value"] == 1.0
    assert result["statistic"] == 0.0


def test_drift_tests_skip_columns_without_a_matching_baseline():
    baseline = {"a": np.array([100, 100]), "b": np.array([100, 100, 100])}
    current = {"a": np.array([50, 50]), "b": np.array([50, 50]), "c": np.array([50, 50])}
    result = homogeneity.drift_tests(baseline, current, ALPHA, MIN_EFFECT, MIN_COUNT)
    assert set(result["columns"]) == {"a"}
    assert result["tested"] == 1
    assert result["drifted"] == []


# --- false-alarm rate and power ------------------------------------------------------------


def zipf_shares(categories: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, categories + 1)
    return weights / weights.sum()


SHARES = {
    "numeric": np.full(10, 0.1),  # decile bins of the reference
    "few": np.array([0.6, 0.3, 0.1]),
    "skewed": np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.03, 0.01, 0.005, 0.003, 0.002]),
    "many": zipf_shares(200),  # ~130 categories expected below 5 rows in a 2000-row batch
}


def reference_counts(rows: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.multinomial(rows, shares) for name, shares in SHARES.items()}


def test_clean_batches_are_not_called_drifted():
    baseline = reference_counts(50_000)
    rng = np.random.default_rng(1)
    alarms, smallest = 0, 1.0
    for _ in range(300):
        batch = {name: rng.multinomial(2000, shares) for name, shares in SHARES.items()}
        result = homogeneity.drift_tests(baseline, batch, ALPHA, MIN_EFFECT, MIN_COUNT)
        assert result["tested"] == len(SHARES)
        alarms += bool(result["drifted"])
        smallest = min(smallest, min(c["p_adjusted"] for c in result["columns"].values()))
    assert alarms <= 1
    # The rare categories are pooled: the 200-category column keeps far fewer bins
    many = homogeneity.column_test(baseline["many"], batch["many"], MIN_COUNT)
    assert 20 < many["bins"] < 120
    assert smallest > 1e-6  # no clean batch looks like a gross shift


def test_a_clear_shift_is_flagged():
    baseline = reference_counts(50_000)
    rng = np.random.default_rng(2)
    shifted = np.array([0.02, 0.03, 0.05, 0.05, 0.05, 0.1, 0.1, 0.15, 0.2, 0.25])
    batch = {name: rng.multinomial(2000, shares) for name, shares in SHARES.items()}
    batch["numeric"] = rng.multinomial(2000, shifted)
    result = homogeneity.drift_tests(baseline, batch, ALPHA, MIN_EFFECT, MIN_COUNT)
    assert result["drifted"] == ["numeric"]
    column = result["columns"]["numeric"]
    assert column["p_adjusted"] < ALPHA
    assert column["psi"] >= MIN_EFFECT


def test_drifted_columns_are_sorted_by_psi():
    baseline = reference_counts(50_000)
    rng = np.random.default_rng(5)
    batch = {name: rng.multinomial(2000, shares) for name, shares in SHARES.items()}
    batch["few"] = rng.multinomial(2000, [0.3, 0.3, 0.4])  # a larger PSI than numeric's
    batch["numeric"] = rng.multinomial(2000, [0.05] * 5 + [0.15] * 5)
    result = homogeneity.drift_tests(baseline, batch, ALPHA, MIN_EFFECT, MIN_COUNT)
    psi = {name: result["columns"][name]["psi"] for name in ("few", "numeric")}
    assert psi["few"] > psi["numeric"] >= MIN_EFFECT
    assert result["drifted"] == ["few", "numeric"]


def test_a_significant_but_tiny_shift_at_a_million_rows_is_not_drift():
    rows = 1_000_000
    baseline = {"numeric": np.random.default_rng(0).multinomial(rows, SHARES["numeric"])}
    tiny = np.full(10, 0.1)
    tiny[:2], tiny[-2:] = 0.09, 0.11
    batch = {"numeric": np.random.default_rng(4).multinomial(rows, tiny)}
    result = homogeneity.drift_tests(baseline, batch, ALPHA, MIN_EFFECT, MIN_COUNT)
    column = result["columns"]["numeric"]
    assert column["p_adjusted"] < 1e-10  # significant...
    assert column["psi"] < 0.01  # ...but far below the effect that matters
    assert column["drifted"] is False
    assert result["drifted"] == []
