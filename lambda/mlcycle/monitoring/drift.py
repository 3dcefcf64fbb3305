"""Feature drift and prediction drift of a batch against the reference profile.

Test selection is Evidently's default (``get_stattest``), so the numbers look familiar:

- the reference column's non-missing row count decides (Evidently drops missing values
  before choosing, so a mostly-null column can sit in the small-reference branch);
- reference <= 1000 rows: numeric columns with more than 5 distinct values (reference and
  batch together) get the two-sample KS test, everything else chi-square; drifted when
  p < 0.05;
- larger references: numeric columns with more than 5 distinct values get the Wasserstein
  distance / reference std, everything else the Jensen-Shannon distance; drifted when
  >= 0.1.
One deliberate difference: the chi-square test is the two-sample (homogeneity) form, not
Evidently's goodness of fit, which raises false alarms on nearly every large batch (see
``distances.chi_square_test``). For two values it equals Evidently's z-test, which
Evidently uses there instead of chi-square.

PSI is reported for every tested feature as a second opinion that does not grow more
sensitive with batch size (a 1M-row batch makes every p-value tiny): 0.1 warn, 0.25 alert.
Numeric PSI uses the reference's decile bins fixed at training time (Evidently bins both
samples together with equal widths, which needs the reference rows at monitoring time).

Missing values are not part of any drift test (null rates belong to data quality).
Datetime columns are never drift-tested: time always moves, so a batch's dates always look
"drifted" against training dates and the alarm would mean nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import distances
from .columns import (
    OTHER,
    as_float,
    category_counts,
    class_shares,
    numeric_values,
    predicted_labels,
    ratio,
    split_known,
)

SMALL_REFERENCE_ROWS = 1000
LOW_CARDINALITY = 5
P_VALUE_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
PSI_WARN = 0.1
PSI_ALERT = 0.25


def feature_drift(features: pd.DataFrame, feature_kinds: dict[str, str], profile: dict) -> dict:
    """Per-feature drift results plus the batch summary the alarms watch.

    ``drifted_share`` is over the features that could be tested (datetime columns, columns
    missing from the batch or without values on either side are reported, not counted).
    """
    results = {}
    for name, kind in feature_kinds.items():
        reference = profile["features"].get(name)
        if reference is None:
            results[name] = _untested(kind, "column not in the reference profile")
        elif reference["kind"] != kind:
            results[name] = _untested(
                kind, f"kind changed since the reference ({reference['kind']} -> {kind})"
            )
        elif name not in features:
            results[name] = _untested(kind, "column missing from the batch")
        elif kind == "datetime":
            results[name] = _untested(
                kind, "datetime columns are not drift-tested: time always moves"
            )
        elif kind == "numeric":
            results[name] = _numeric_drift(numeric_values(features[name]), reference)
        else:
            results[name] = _categorical_drift(category_counts(features[name]), reference)

    tested = [name for name, result in results.items() if result["tested"]]
    drifted = [name for name in tested if results[name]["drifted"]]
    psis = {name: results[name]["psi"] for name in tested if results[name]["psi"] is not None}
    worst = max(psis, key=psis.__getitem__) if psis else None
    return {
        "features": results,
        "tested_features": len(tested),
        "drifted_features": drifted,
        "drifted_share": ratio(len(drifted), len(tested)),
        "max_psi": psis[worst] if worst is not None else None,
        "max_psi_feature": worst,
        "psi_thresholds": {"warn": PSI_WARN, "alert": PSI_ALERT},
    }


def prediction_drift(
    proba: pd.DataFrame | None, profile: dict, predicted: pd.Series | None = None
) -> dict:
    """Jensen-Shannon distance between the batch's predicted class shares and the reference's.

    Uses ``predicted`` when given (a labels-only plug-in has no probabilities), else the
    arg-max of ``proba``. Classes missing on one side count as share 0 there.
    """
    if predicted is None and proba is not None:
        predicted = predicted_labels(proba)
    current = class_shares(predicted) if predicted is not None else {}
    reference = profile["predictions"]["class_shares"]
    if not current or not reference:
        return {"available": False, "reason": "no predictions in the batch or the reference"}
    support = list(reference) + sorted(set(current) - set(reference))
    distance = distances.jensen_shannon(
        [reference.get(c, 0.0) for c in support], [current.get(c, 0.0) for c in support]
    )
    return {
        "available": True,
        "method": "jensen_shannon",
        "distance": as_float(distance),
        "class_shares": current,
        "reference_class_shares": reference,
    }


def _untested(kind: str, reason: str) -> dict:
    return {"kind": kind, "tested": False, "reason": reason}


def _numeric_drift(values: np.ndarray, reference: dict) -> dict:
    reference_rows = reference["non_null_count"]
    if reference_rows == 0 or len(values) == 0:
        return _untested("numeric", "no non-missing values in the reference or the batch")
    small = reference_rows <= SMALL_REFERENCE_ROWS
    # Evidently counts distinct values over reference and batch together; the union only
    # needs building when the reference itself has few values.
    support = None
    if reference["n_unique"] <= LOW_CARDINALITY:
        support = np.union1d(reference["values"], pd.unique(values))
    if support is None or len(support) > LOW_CARDINALITY:
        if small:
            statistic, p_value = distances.ks_test(reference["sample"], values)
            result = _p_value_result("ks", statistic, p_value)
        else:
            distance = distances.normalised_wasserstein(
                reference["quantiles"], reference["std"], values
            )
            result = _distance_result("wasserstein_normed", distance)
    else:
        # Few distinct values: compare them as categories, keyed by the value itself.
        reference_shares = pd.Series(reference["value_shares"], index=reference["values"])
        reference_counts = _counts(
            reference_shares.reindex(support, fill_value=0.0), reference_rows
        )
        current_counts = pd.Series(values).value_counts().reindex(support, fill_value=0).to_numpy()
        result = _discrete_result(small, reference_counts, current_counts)
    current_bins = distances.bin_shares(values, np.asarray(reference["bin_edges"]))
    return _with_psi(
        result,
        "numeric",
        reference_rows,
        len(values),
        distances.psi(reference["bin_shares"], current_bins),
    )


def _categorical_drift(counts: pd.Series, reference: dict) -> dict:
    reference_rows = reference["non_null_count"]
    if reference_rows == 0 or counts.sum() == 0:
        return _untested("categorical", "no non-missing values in the reference or the batch")
    # The support is the reference's categories plus OTHER, which also takes every category
    # the reference never saw: new categories push mass into OTHER instead of vanishing.
    known = [key for key in reference["shares"] if key != OTHER]
    on_known, elsewhere = split_known(counts, known)
    current_counts = np.append(on_known.to_numpy(), elsewhere)
    reference_shares = np.array(
        [reference["shares"][key] for key in known] + [reference["shares"][OTHER]]
    )
    reference_counts = _counts(reference_shares, reference_rows)
    result = _discrete_result(
        reference_rows <= SMALL_REFERENCE_ROWS, reference_counts, current_counts
    )
    return _with_psi(
        result,
        "categorical",
        reference_rows,
        int(counts.sum()),
        distances.psi(reference_shares, current_counts / current_counts.sum()),
    )


def _counts(shares: ArrayLike, rows: int) -> np.ndarray:
    # The profile stores shares of the non-missing rows; share * rows gives the counts back.
    return np.rint(np.asarray(shares, dtype="float64") * rows)


def _discrete_result(small: bool, reference_counts: np.ndarray, current_counts: np.ndarray) -> dict:
    if small:
        statistic, p_value = distances.chi_square_test(reference_counts, current_counts)
        return _p_value_result("chi_square", statistic, p_value)
    return _distance_result(
        "jensen_shannon", distances.jensen_shannon(reference_counts, current_counts)
    )


def _p_value_result(method: str, statistic: float, p_value: float) -> dict:
    return {
        "method": method,
        "statistic": as_float(statistic),
        "p_value": as_float(p_value),
        "threshold": P_VALUE_THRESHOLD,
        "drifted": bool(p_value < P_VALUE_THRESHOLD),
    }


def _distance_result(method: str, distance: float) -> dict:
    return {
        "method": method,
        "distance": as_float(distance),
        "threshold": DISTANCE_THRESHOLD,
        "drifted": bool(distance >= DISTANCE_THRESHOLD),
    }


def _with_psi(result: dict, kind: str, reference_rows: int, current_rows: int, psi: float) -> dict:
    level = "alert" if psi >= PSI_ALERT else "warn" if psi >= PSI_WARN else "ok"
    return {
        "kind": kind,
        "tested": True,
        **result,
        "psi": as_float(psi),
        "psi_level": level,
        "reference_rows": reference_rows,
        "current_rows": current_rows,
    }
