"""The binning and the effect size behind the drift tests, as plain functions of arrays.

Kept apart from the tests in ``homogeneity.py`` so each formula can be checked against a
hand computation on tiny inputs. PSI follows the usual convention: sum((cur - ref) *
ln(cur / ref)) over bins, zero shares floored at ``EPSILON`` (Evidently's 0.0001), since
without the floor one empty bin makes PSI infinite.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

EPSILON = 1e-4
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
