"""The drift formulas on tiny inputs, against hand computations and scipy."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlcycle.monitoring import distances


def test_psi_matches_hand_computation():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.173287 + 0.101366
    assert distances.psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.274653, abs=1e-6)


def test_psi_floors_empty_bins_at_epsilon_instead_of_going_infinite():
    # reference [1, 0] -> [1, 1e-4]: (0.5 - 1) ln(0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
    expected = -0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert distances.psi([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(4.604319, abs=1e-6)


def test_psi_is_zero_for_identical_shares_even_with_empty_bins():
    assert distances.psi([0.2, 0.0, 0.8], [0.2, 0.0, 0.8]) == 0.0


def test_bin_shares_puts_values_on_an_edge_in_the_upper_bin_and_keeps_outer_bins_open():
    # edges 1, 2: bins (-inf, 1), [1, 2), [2, inf)
    shares = distances.bin_shares(np.array([0.0, 1.0, 1.5, 2.0, 300.0]), np.array([1.0, 2.0]))
    assert shares.tolist() == [0.2, 0.4, 0.4]


def test_quantile_edges_are_reference_values_with_ties_merged():
    # deciles by inverted CDF: 0 up to the 60% level, 1 at 70-80%, 2 at 90%
    edges = distances.quantile_edges(np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2], dtype=float))
    assert edges.tolist() == [0.0, 1.0, 2.0]
    assert distances.quantile_edges(np.arange(100.0)).tolist() == [
        9,
        19,
        29,
        39,
        49,
        59,
        69,
        79,
        89,
    ]


def test_jensen_shannon_matches_hand_computation_and_scipy():
    # m = [0.75, 0.25]; KL(p, m) = 0.5 ln(2/3) + 0.5 ln(2) = 0.143841; KL(q, m) = ln(4/3) = 0.287682
    hand = math.sqrt((0.143841 + 0.287682) / 2)
    assert distances.jensen_shannon([0.5, 0.5], [1.0, 0.0]) == pytest.approx(hand, abs=1e-6)
    assert distances.jensen_shannon([0.5, 0.5], [1.0, 0.0]) == pytest.approx(
        jensenshannon([0.5, 0.5], [1.0, 0.0])
    )


def test_jensen_shannon_is_sqrt_ln2_for_disjoint_support_and_normalises_counts():
    assert distances.jensen_shannon([3, 0], [0, 7]) == pytest.approx(math.sqrt(math.log(2)))
    p, q = [2, 5, 3], [1, 1, 8]
    assert distances.jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q), rel=1e-12)


def test_normalised_wasserstein_is_scipy_distance_over_reference_std():
    reference = np.array([0.0, 1.0, 2.0, 3.0])
    current = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    expected = stats.wasserstein_distance(reference, current) / reference.std()
    assert distances.normalised_wasserstein(reference, reference.std(), current) == pytest.approx(
        expected
    )
    # Shifting every value by 1 moves all the mass by 1: W = 1, std = sqrt(1.25)
    assert distances.normalised_wasserstein(
        reference, reference.std(), reference + 1
    ) == pytest.approx(1 / math.sqrt(1.25))


def test_normalised_wasserstein_floors_a_constant_reference_std():
    assert distances.normalised_wasserstein([5.0, 5.0], 0.0, [5.5, 5.5]) == pytest.approx(
        0.5 / 0.001
    )


def test_ks_test_matches_scipy():
    rng = np.random.default_rng(3)
    reference, current = rng.normal(size=200), rng.normal(0.3, 1, size=300)
    expected = stats.ks_2samp(reference, current)
    assert distances.ks_test(reference, current) == pytest.approx(
        (expected.statistic, expected.pvalue)
    )


def test_chi_square_is_the_two_sample_test_matching_hand_computation_and_scipy():
    # table [[30, 10], [20, 20]]: expected [[25, 15], [25, 15]] -> 2 * (25/25 + 25/15) = 5.3333
    statistic, p_value = distances.chi_square_test([30, 10], [20, 20])
    assert statistic == pytest.approx(16 / 3)
    assert p_value == pytest.approx(stats.chi2.sf(16 / 3, 1))
    assert p_value == pytest.approx(
        stats.chi2_contingency([[30, 10], [20, 20]], correction=False).pvalue
    )


def test_chi_square_on_two_values_equals_evidentlys_two_proportion_z_test():
    p1, p2, pooled = 30 / 40, 20 / 40, 50 / 80
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / 40 + 1 / 40))
    assert distances.chi_square_test([30, 10], [20, 20])[1] == pytest.approx(
        2 * stats.norm.sf(abs(z))
    )


def test_chi_square_handles_a_value_seen_on_one_side_only():
    statistic, p_value = distances.chi_square_test([10, 0, 5], [9, 4, 5])
    expected = stats.chi2_contingency([[10, 0, 5], [9, 4, 5]], correction=False)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))
    assert math.isfinite(statistic)


def test_chi_square_drops_values_absent_on_both_sides_and_cannot_test_one_value():
    assert distances.chi_square_test([30, 10, 0], [20, 20, 0]) == pytest.approx(
        distances.chi_square_test([30, 10], [20, 20])
    )
    assert distances.chi_square_test([40, 0], [7, 0]) == (0.0, 1.0)
