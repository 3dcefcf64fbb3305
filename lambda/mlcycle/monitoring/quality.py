"""Data quality of a batch: is the input complete and of the shape the model was trained on?

These checks come before drift because they explain it: a failed join shows up as a jump
in nulls and a drop in join coverage long before anyone reads a drift statistic.
"""

from __future__ import annotations

import pandas as pd

from .columns import OTHER, as_float, category_counts, missing_share, ratio, split_known

UNSEEN_EXAMPLES = 5


def data_quality(
    features: pd.DataFrame,
    feature_kinds: dict[str, str],
    profile: dict,
    join_coverage: float | None,
    schema_violations: int = 0,
) -> dict:
    """Row count, join coverage, null rates and unseen categories of a batch.

    ``join_coverage`` (share of rows that found a partner in the joined source) and
    ``schema_violations`` come from the data-contract step and are passed through. A
    feature missing from the batch is listed in ``missing_columns`` with null rate 1: for
    the model it is a column of nulls. Null rates are None for an empty batch.

    A categorical value is "unseen" when it is not among the reference's stored categories.
    When the reference had more categories than the profile keeps (``reference_truncated``),
    its rare tail counts as unseen too.
    """
    rows = len(features)
    missing_columns = [name for name in feature_kinds if name not in features]
    null_rate = {
        name: (missing_share(features[name], kind) if name in features else (1.0 if rows else None))
        for name, kind in feature_kinds.items()
    }
    rated = {name: rate for name, rate in null_rate.items() if rate is not None}
    worst = max(rated, key=rated.__getitem__) if rated else None

    unseen = {
        name: _unseen(features[name], profile["features"].get(name))
        for name, kind in feature_kinds.items()
        if kind == "categorical" and name in features
    }
    unseen_total = sum(column["unseen_values"] for column in unseen.values())
    categorical_total = sum(column["non_null_values"] for column in unseen.values())
    return {
        "row_count": rows,
        "join_coverage": as_float(join_coverage),
        "schema_violations": int(schema_violations),
        "missing_columns": missing_columns,
        "null_rate": null_rate,
        "reference_null_rate": {
            name: profile["features"].get(name, {}).get("null_rate") for name in feature_kinds
        },
        "max_null_rate": rated[worst] if worst is not None else None,
        "max_null_rate_column": worst,
        "unseen_categories": unseen,
        "unseen_category_rate": ratio(unseen_total, categorical_total),
    }


def _unseen(series: pd.Series, reference: dict | None) -> dict:
    counts = category_counts(series)
    known = [key for key in (reference or {}).get("shares", {}) if key != OTHER]
    on_known, unseen_values = split_known(counts, known)
    non_null = int(counts.sum())
    examples = counts.drop(on_known.index, errors="ignore").iloc[:UNSEEN_EXAMPLES]
    return {
        "non_null_values": non_null,
        "unseen_values": unseen_values,
        "rate": ratio(unseen_values, non_null),
        "examples": list(examples.index),
        "reference_truncated": bool(reference and reference.get("n_unique", 0) > len(known)),
    }
