"""Drift tests on binned counts that hold their false-alarm rate at any batch size.

For each column the batch's bin counts are tested against the baseline's (the reference
profile, or recent healthy batches pooled) with the two-sample chi-square test of
homogeneity. Three things keep the test honest:

- bins whose expected count in the batch is below ``MIN_EXPECTED`` are pooled into one (a
  column with 200 categories is not "drifted" because most of them are rare), and a column
  with fewer than ``min_count`` values is not tested at all;
- the p-values of all columns are adjusted together (Holm), so the chance that any column of
  a clean batch is called drifted stays at ``alpha`` however many columns there are;
- significance alone is not enough at a million rows: a column drifts only when its PSI (on
  the same bins) also reaches ``min_effect``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as scipy_stats

from . import distances

MIN_EXPECTED = 5.0


def grouped(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both count vectors with the bins the batch would rarely fill pooled into one."""
    reference = np.asarray(reference, dtype="float64")
    current = np.asarray(current, dtype="float64")
    total_ref, total_cur = reference.sum(), current.sum()
    expected = (reference + current) / (total_ref + total_cur) * total_cur
    rare = expected < MIN_EXPECTED
    if rare.sum() <= 1:
        return reference, current
    keep = ~rare
    ref = np.append(reference[keep], reference[rare].sum())
    cur = np.append(current[keep], current[rare].sum())
    return ref, cur


def column_test(reference: np.ndarray, current: np.ndarray, min_count: int) -> dict:
    """Chi-square homogeneity and PSI of one column's bins; untested when too few values."""
    n = int(np.sum(current))
    if n < min_count or np.sum(reference) == 0:
        return {"tested": False, "rows": n, "reason": f"fewer than {min_count} values"}
    ref, cur = grouped(reference, current)
    table = np.vstack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        result = scipy_stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    psi = distances.psi(ref / ref.sum(), cur / cur.sum())
    return {
        "tested": True,
        "rows": n,
        "bins": int(table.shape[1]),
        "statistic": statistic,
        "p_value": p_value,
        "psi": psi,
    }


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm-adjusted p-values (family-wise error over all the columns tested)."""
    order = sorted(p_values, key=p_values.__getitem__)
    m = len(order)
    adjusted, running = {}, 0.0
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        adjusted[name] = running
    return adjusted


def drift_tests(
    baseline: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    alpha: float,
    min_effect: float,
    min_count: int,
) -> dict:
    """Per column: the test, its Holm-adjusted p-value and whether it drifted; and the summary."""
    results = {
        name: column_test(baseline[name], counts, min_count)
        for name, counts in current.items()
        if name in baseline and len(baseline[name]) == len(counts) and len(counts)
    }
    tested = {name: r["p_value"] for name, r in results.items() if r["tested"]}
    for name, p in holm(tested).items():
        r = results[name]
        r["p_adjusted"] = p
        r["drifted"] = bool(p < alpha and r["psi"] >= min_effect)
    drifted = sorted(
        (name for name, r in results.items() if r.get("drifted")),
        key=lambda name: -results[name]["psi"],
    )
    return {"columns": results, "tested": len(tested), "drifted": drifted}
