"""The binning and PSI on tiny inputs, against hand computations."""

import math

import numpy as np
import pytest

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
