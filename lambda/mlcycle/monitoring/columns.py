"""Turning pandas columns into the few numbers the monitoring metrics need.

Every metric starts from a column, and the rules for "missing" and for category keys must be
the same in the reference profile and in every batch report, or a metric compares two
different things. They live here, once:

- a numeric value is missing when it is NaN, None, pd.NA or +-inf (Evidently drops +-inf too);
  a non-numeric value in a numeric column counts as missing (schema checks report it);
- a categorical or datetime value is missing when pandas says it is NA;
- category and class keys are ``str(value)``: the profile is JSON, whose object keys are
  strings, so the batch side must use the same spelling to find them again.

Nothing here loops over rows in Python: a 1M-row batch must be monitored in seconds.
"""

from __future__ import annotations

import math
from typing import SupportsFloat

import numpy as np
import pandas as pd

KINDS = ("numeric", "categorical", "datetime")
# The share bucket for categories outside the reference's stored categories (the rare tail
# of the reference, and categories the reference never saw).
OTHER = "__other__"


def as_float(value: SupportsFloat | None) -> float | None:
    """A plain finite float for the JSON report, or None where the number is undefined.

    None instead of NaN/inf keeps the report strict JSON and lets headline metrics omit what
    could not be computed instead of publishing a misleading zero.
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when the denominator is zero (an empty batch has no rate)."""
    return as_float(numerator / denominator) if denominator else None


def as_series(values: object) -> pd.Series | None:
    """Labels or predictions as a Series (plug-ins hand over arrays); None stays None.

    Rows are matched by position everywhere in monitoring, so the index does not matter.
    """
    return values if values is None or isinstance(values, pd.Series) else pd.Series(values)


def numeric_values(series: pd.Series) -> np.ndarray:
    """The finite values of a numeric column as float64."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    else:
        # A numeric column that arrived as text: unparsable values become missing.
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def missing_share(series: pd.Series, kind: str) -> float | None:
    """Share of missing values under the rules above; None for an empty column."""
    if kind == "numeric":
        return ratio(len(series) - len(numeric_values(series)), len(series))
    return ratio(int(series.isna().sum()), len(series))


def category_counts(series: pd.Series) -> pd.Series:
    """Counts of the non-missing values keyed by ``str(value)``, most frequent first.

    Ties are ordered by key so a profile built twice from the same data is identical.
    """
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0].astype("int64")  # a categorical dtype lists unused categories too
    counts.index = counts.index.astype(str)
    if not counts.index.is_unique:
        # Different values with one spelling (1 and "1") are one key from here on.
        counts = counts.groupby(level=0).sum()
    return counts.sort_index().sort_values(ascending=False, kind="stable")


def split_known(counts: pd.Series, known: list[str]) -> tuple[pd.Series, int]:
    """Counts laid on the ``known`` keys (0 where absent) and the total of all other keys."""
    on_known = counts.reindex(known, fill_value=0)
    return on_known, int(counts.sum() - on_known.sum())


def predicted_labels(proba: pd.DataFrame) -> pd.Series:
    """Arg-max class of each row; rows with any missing probability stay missing.

    Returned as a categorical Series (codes plus the class list) so later counting and
    comparisons work on small integers rather than 1M Python objects.
    """
    values = proba.to_numpy(dtype="float64", na_value=np.nan)
    complete = ~np.isnan(values).any(axis=1)
    codes = np.where(complete, np.argmax(np.nan_to_num(values, nan=-np.inf), axis=1), -1)
    return pd.Series(
        pd.Categorical.from_codes(codes, categories=list(proba.columns)), index=proba.index
    )


def class_shares(labels: pd.Series) -> dict[str, float]:
    """Share of each class among the non-missing labels (empty when there are none)."""
    counts = category_counts(labels)
    total = counts.sum()
    return {key: float(count / total) for key, count in counts.items()} if total else {}


def plain(value: object) -> object:
    """A numpy scalar as the Python scalar JSON knows (class labels may be numpy ints)."""
    return value.item() if isinstance(value, np.generic) else value
