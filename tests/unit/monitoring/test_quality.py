"""Data quality: null rates, unseen categories, missing columns, empty batches."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.quality import data_quality

from .helpers import profile_of

KINDS = {"n": "numeric", "c": "categorical", "d": "datetime"}
REFERENCE = pd.DataFrame(
    {
        "n": [1.0, 2.0, 3.0, np.nan],
        "c": ["x", "y", "y", None],
        "d": pd.to_datetime(["2020-01-01", None, "2020-01-03", "2020-01-04"]),
    }
)


def quality_of(batch: pd.DataFrame, **kwargs) -> dict:
    return data_quality(
        batch, KINDS, profile_of(REFERENCE, KINDS), **{"join_coverage": 0.8, **kwargs}
    )


def test_null_rates_per_column_and_the_worst_one():
    batch = pd.DataFrame(
        {
            "n": [1.0, np.inf, np.nan, 4.0, 5.0],
            "c": ["x", None, None, None, "y"],
            "d": pd.to_datetime(["2021-01-01"] * 4 + [None]),
        }
    )
    result = quality_of(batch, schema_violations=2)
    # inf counts as missing for a numeric feature (as in the drift tests)
    assert result["null_rate"] == pytest.approx({"n": 0.4, "c": 0.6, "d": 0.2})
    assert result["reference_null_rate"] == pytest.approx({"n": 0.25, "c": 0.25, "d": 0.25})
    assert (result["max_null_rate"], result["max_null_rate_column"]) == (pytest.approx(0.6), "c")
    assert (result["row_count"], result["join_coverage"], result["schema_violations"]) == (
        5,
        0.8,
        2,
    )


def test_unseen_category_rate_per_column_and_overall():
    batch = pd.DataFrame(
        {"n": [1.0] * 5, "c": ["x", "z", "z", "w", None], "d": pd.to_datetime(["2021-01-01"] * 5)}
    )
    result = quality_of(batch)
    column = result["unseen_categories"]["c"]
    assert (column["unseen_values"], column["non_null_values"]) == (3, 4)
    assert column["rate"] == 0.75 and column["examples"] == ["z", "w"]
    assert column["reference_truncated"] is False
    assert result["unseen_category_rate"] == 0.75


def test_rare_reference_categories_beyond_the_kept_ones_are_flagged_as_truncated():
    profile = profile_of(REFERENCE, KINDS, max_categories=1)
    result = data_quality(pd.DataFrame({"c": ["x", "y"]}), {"c": "categorical"}, profile, None)
    assert result["unseen_categories"]["c"]["rate"] == 0.5  # "x" was only in the tail
    assert result["unseen_categories"]["c"]["reference_truncated"] is True


def test_a_missing_column_is_listed_and_counts_as_all_null():
    result = quality_of(pd.DataFrame({"n": [1.0, 2.0], "d": pd.to_datetime(["2021-01-01"] * 2)}))
    assert result["missing_columns"] == ["c"]
    assert result["null_rate"]["c"] == 1.0 and result["max_null_rate"] == 1.0
    assert result["unseen_category_rate"] is None


def test_an_empty_batch_has_no_rates_rather_than_zero_rates():
    result = quality_of(REFERENCE.iloc[:0], join_coverage=None)
    assert result["row_count"] == 0
    assert result["max_null_rate"] is None and result["unseen_category_rate"] is None
    assert result["join_coverage"] is None
