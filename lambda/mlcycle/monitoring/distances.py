"""The statistics behind drift detection, as plain functions of arrays.

Kept apart from the selection logic in ``drift.py`` so each formula can be checked against
a hand computation or scipy on tiny inputs. Conventions follow Evidently's defaults so the
numbers look familiar to anyone who has used it:

- PSI: sum((cur - ref) * ln(cur / ref)) over bins, zero shares floored at ``EPSILON``
  (Evidently replaces zeros with 0.0001): without the floor one empty bin makes PSI infinite.
- Jensen-Shannon *distance* (square root of the divergence) with the natural log, which is
  ``scipy.spatial.distance.jensenshannon``'s default and Evidently's; it lies in
  [0, sqrt(ln 2) ~ 0.833].
- Wasserstein distance divided by the reference's population std, floored at 0.001 so a
  constant reference column does not divide by zero.
- Chi-square: two-sample test of homogeneity (see ``chi_square_test`` for why not
  Evidently's goodness of fit).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

EPSILON = 1e-4
MIN_STD = 0.001
PSI_BINS = 10


def quantile_edges(values: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (deciles by default).

    Quantile bins give every reference bin about the same mass, so PSI is not dominated by
    a few sparse bins in the tails. Only the inner edges are kept: the outer bins are open,
    so batch values outside the reference range still land in a bin. Edges are reference
    values (inverted CDF, no interpolation), so integer data gets integer edges rather than
    fractional ones with empty bins in between; repeated edges (ties) are merged.
    """
    if len(values) == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.arange(1, bins) / bins, method="inverted_cdf"))


def bin_shares(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Share of values per bin; bin i holds edges[i-1] <= x < edges[i]."""
    index = np.searchsorted(inner_edges, values, side="right")
    counts = np.bincount(index, minlength=len(inner_edges) + 1)
    return counts / counts.sum() if counts.sum() else counts.astype("float64")


def psi(reference_shares: ArrayLike, current_shares: ArrayLike, eps: float = EPSILON) -> float:
    """Population stability index between two share vectors over the same bins."""
    ref = np.maximum(np.asarray(reference_shares, dtype="float64"), eps)
    cur = np.maximum(np.asarray(current_shares, dtype="float64"), eps)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def jensen_shannon(p: ArrayLike, q: ArrayLike) -> float:
    """Jensen-Shannon distance between two count or share vectors (normalised here)."""
    p_shares = np.asarray(p, dtype="float64")
    q_shares = np.asarray(q, dtype="float64")
    p_shares, q_shares = p_shares / p_shares.sum(), q_shares / q_shares.sum()
    m = (p_shares + q_shares) / 2
    return float(np.sqrt((_kl(p_shares, m) + _kl(q_shares, m)) / 2))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    # 0 * ln(0 / m) is 0 by continuity; m > 0 wherever p > 0.
    present = p > 0
    return float(np.sum(p[present] * np.log(p[present] / m[present])))


def normalised_wasserstein(
    reference_values: ArrayLike, reference_std: float, current_values: ArrayLike
) -> float:
    """Earth mover's distance from the reference in units of the reference's std.

    ``reference_values`` may be the reference's quantiles rather than its rows: equally
    weighted mid-point quantiles are the closest small stand-in for a distribution in this
    metric, which is why the profile stores them.
    """
    distance = stats.wasserstein_distance(reference_values, current_values)
    return float(distance / max(reference_std, MIN_STD))


def ks_test(reference_sample: ArrayLike, current_values: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: (statistic, p-value)."""
    result = stats.ks_2samp(reference_sample, current_values)
    return float(result.statistic), float(result.pvalue)


def chi_square_test(reference_counts: ArrayLike, current_counts: ArrayLike) -> tuple[float, float]:
    """Two-sample chi-square test of homogeneity (Pearson, no continuity correction).

    Evidently's default is a goodness of fit that treats the reference shares as exact. With
    a reference of at most 1000 rows and large batches that mistakes the reference's own
    sampling noise for drift: in simulation it flags 51% of clean 2000-row batches against
    a 600-row reference and every clean 1M-row batch against a 1000-row one. The two-sample
    form accounts for both samples (about 5% false alarms, as p < 0.05 promises), tends to
    Evidently's test when the reference is much larger than the batch, and for two
    categories equals Evidently's two-proportion z-test exactly.

    A value seen on one side only needs no special case; values absent on both sides are
    dropped. With fewer than two values left there is nothing to test: statistic 0, p 1.
    """
    table = np.vstack([reference_counts, current_counts]).astype("float64")
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)
