"""Batch statistics: counts on fixed bins, predictions, merging of chunks, JSON round trip."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring.batchstats import BatchStats, ColumnBins, Layout, input_sample

LAYOUT = Layout(
    features={
        "x": ColumnBins("numeric", edges=(0.0, 1.0)),
        "c": ColumnBins("categorical", categories=("u", "v")),
        "k": ColumnBins("categorical", categories=("1", "2")),
        "d": ColumnBins("datetime"),
        "absent": ColumnBins("numeric", edges=(0.0,)),
    },
    inputs={"x_in": ColumnBins("numeric", edges=(0.5,))},
    classes=("a", "b"),
    confidence_edges=(0.6, 0.8),
    positive_class="b",
    sources=("src", "other_src"),
)

P_B = [0.1, 0.3, 0.5, 0.65, 0.7, 0.85, 0.95, 0.2]


def small_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [-1.0, 0.0, 0.5, 1.0, 2.0, np.nan, np.inf, -np.inf],
            "c": ["u", "v", "u", "z", None, "q", "v", np.nan],
            "k": [1, 2, 2, 3, 1, 3, 1, 2],
            "d": pd.to_datetime(["2024-01-01"] * 7 + [None]),
        }
    )


def small_proba() -> pd.DataFrame:
    p = np.array(P_B)
    return pd.DataFrame({"a": 1 - p, "b": p})


def small_stats() -> BatchStats:
    stats = BatchStats.empty(LAYOUT)
    stats.add(
        LAYOUT,
        small_frame(),
        np.array(["a", "a", "b", "b", "b", "b", "b", "zz"]),
        small_proba(),
        {"src": 6},
        inputs=pd.DataFrame({"x_in": [0.1, 0.9, np.nan]}),
    )
    return stats


def test_empty_stats_have_a_zero_bin_for_every_column_and_source():
    stats = BatchStats.empty(LAYOUT)
    assert stats.matched == {"src": 0, "other_src": 0}
    assert {k: len(v) for k, v in stats.counts.items()} == {
        "x": 3,
        "c": 3,
        "k": 3,
        "d": 0,
        "absent": 2,
    }
    assert stats.confidence.tolist() == [0, 0, 0]
    assert stats.classes == {"a": 0, "b": 0}


def test_numeric_bins_and_non_finite_values_count_as_null():
    stats = small_stats()
    # x: -1 | 0, 0.5 | 1, 2 on edges (0, 1) with bin i holding edges[i-1] <= x < edges[i]
    assert stats.counts["x"].tolist() == [1, 2, 2]
    assert stats.nulls["x"] == 3  # NaN, inf, -inf


def test_categories_outside_the_reference_go_to_the_last_bin():
    stats = small_stats()
    assert stats.counts["c"].tolist() == [2, 2, 2]  # u, v, other (z, q)
    assert stats.nulls["c"] == 2
    # Keys are str(value): integer values find the reference's "1" and "2"
    assert stats.counts["k"].tolist() == [3, 3, 2]
    assert stats.nulls["k"] == 0


def test_datetime_counts_only_nulls_and_a_missing_column_is_all_null():
    stats = small_stats()
    assert stats.nulls["d"] == 1
    assert stats.counts["d"].tolist() == []
    assert stats.nulls["absent"] == 8
    assert stats.counts["absent"].tolist() == [0, 0]


def test_rows_matches_and_model_inputs():
    stats = small_stats()
    assert stats.rows == 8
    assert stats.matched == {"src": 6, "other_src": 0}
    assert stats.inputs_rows == 3
    assert stats.inputs_nulls == {"x_in": 1}
    assert stats.inputs_counts["x_in"].tolist() == [1, 1]


def test_predicted_class_counts_include_classes_outside_the_layout():
    assert small_stats().classes == {"a": 2, "b": 5, "zz": 1}


def test_confidence_bins_hold_the_top_probability():
    # top = max(p, 1 - p) = .9 .7 .5 .65 .7 .85 .95 .8 on edges (.6, .8): .5 | .7 .65 .7 | rest
    assert small_stats().confidence.tolist() == [1, 3, 4]


def test_positive_sum_and_square_sum():
    stats = small_stats()
    assert stats.positive_sum == pytest.approx(sum(P_B))
    assert stats.positive_sq == pytest.approx(sum(p * p for p in P_B))
    assert stats.positive_sum == pytest.approx(4.25)
    assert stats.positive_sq == pytest.approx(2.9275)


def test_missing_positive_probabilities_are_left_out_of_the_sums():
    stats = BatchStats.empty(LAYOUT)
    proba = pd.DataFrame({"a": [0.2, 0.4], "b": [0.8, np.nan]})
    stats.add(LAYOUT, pd.DataFrame({"x": [0.0, 1.0]}), np.array(["b", "a"]), proba, {})
    assert stats.positive_sum == pytest.approx(0.8)
    assert stats.positive_sq == pytest.approx(0.64)


def test_no_probabilities_leave_confidence_and_sums_at_zero():
    stats = BatchStats.empty(LAYOUT)
    stats.add(LAYOUT, small_frame(), np.array(["a"] * 8), None, {})
    assert stats.confidence.tolist() == [0, 0, 0]
    assert stats.positive_sum == 0.0
    assert stats.classes == {"a": 8, "b": 0}


# --- merging -------------------------------------------------------------------------------


def random_frame(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 1.0, rows)
    x[rng.random(rows) < 0.1] = np.nan
    x[rng.random(rows) < 0.02] = np.inf
    c = rng.choice(np.array(["u", "v", "w", "q", None], dtype=object), rows)
    k = rng.choice([1, 2, 3], rows)
    d = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, rows), unit="D")
    d = d.where(rng.random(rows) > 0.05)
    features = pd.DataFrame({"x": x, "c": c, "k": k, "d": d})
    p = rng.random(rows)
    proba = pd.DataFrame({"a": 1 - p, "b": p})
    predicted = np.where(p >= 0.5, "b", "a")
    return features, predicted, proba


def assert_same(left: BatchStats, right: BatchStats) -> None:
    for f in dataclasses.fields(BatchStats):
        a, b = getattr(left, f.name), getattr(right, f.name)
        if isinstance(a, float):
            assert a == pytest.approx(b, rel=1e-12), f.name
        elif isinstance(a, np.ndarray):
            assert a.tolist() == b.tolist(), f.name
        elif isinstance(a, dict):
            assert list(a) == list(b) or set(a) == set(b), f.name
            for key in a:
                value_a, value_b = a[key], b[key]
                if isinstance(value_a, np.ndarray):
                    assert value_a.tolist() == value_b.tolist(), (f.name, key)
                else:
                    assert value_a == value_b, (f.name, key)
        else:
            assert a == b, f.name


CHUNKS = [slice(0, 70), slice(70, 200), slice(200, 300)]
MATCHED = [{"src": 60}, {"src": 120, "other_src": 5}, {"src": 90}]
VIOLATIONS = [1, 0, 3]


def whole_and_chunks() -> tuple[BatchStats, list[BatchStats]]:
    features, predicted, proba = random_frame(300, seed=7)
    inputs = pd.DataFrame({"x_in": features["x"] / 2})
    whole = BatchStats.empty(LAYOUT)
    whole.add(
        LAYOUT,
        features,
        predicted,
        proba,
        {"src": 270, "other_src": 5},
        inputs=inputs,
    )
    whole.violations = sum(VIOLATIONS)
    parts = []
    for rows, matched, violations in zip(CHUNKS, MATCHED, VIOLATIONS, strict=True):
        part = BatchStats.empty(LAYOUT)
        part.add(
            LAYOUT,
            features.iloc[rows],
            predicted[rows],
            proba.iloc[rows],
            matched,
            inputs=inputs.iloc[rows],
        )
        part.violations = violations
        parts.append(part)
    return whole, parts


def test_adding_chunks_one_by_one_equals_adding_the_whole_frame():
    features, predicted, proba = random_frame(300, seed=7)
    inputs = pd.DataFrame({"x_in": features["x"] / 2})
    whole, _ = whole_and_chunks()
    running = BatchStats.empty(LAYOUT)
    for rows, matched in zip(CHUNKS, MATCHED, strict=True):
        running.add(
            LAYOUT,
            features.iloc[rows],
            predicted[rows],
            proba.iloc[rows],
            matched,
            inputs=inputs.iloc[rows],
        )
    running.violations = sum(VIOLATIONS)
    assert_same(running, whole)
    assert whole.rows == 300
    assert whole.counts["x"].sum() + whole.nulls["x"] == 300


def test_merging_separately_built_chunks_equals_the_whole_frame():
    whole, parts = whole_and_chunks()
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert_same(merged, whole)
    # The other order gives the same statistics too
    assert_same(parts[2].merge(parts[0].merge(parts[1])), whole)


def test_merge_leaves_its_parts_alone():
    _, parts = whole_and_chunks()
    before = [json.dumps(p.to_json()) for p in parts]
    merged = parts[0].merge(parts[1])
    snapshot = json.dumps(merged.to_json())
    features, predicted, proba = random_frame(50, seed=1)
    parts[0].add(LAYOUT, features, predicted, proba, {"src": 1})
    assert json.dumps(merged.to_json()) == snapshot
    assert json.dumps(parts[1].to_json()) == before[1]


def test_json_round_trip():
    whole, _ = whole_and_chunks()
    text = json.dumps(whole.to_json())
    back = BatchStats.from_json(json.loads(text))
    assert_same(back, whole)
    assert back.to_json() == whole.to_json()
    assert back.counts["x"].dtype == np.int64
    assert back.confidence.dtype == np.int64


def test_json_of_empty_stats_round_trips():
    empty = BatchStats.empty(LAYOUT)
    back = BatchStats.from_json(json.loads(json.dumps(empty.to_json())))
    assert_same(back, empty)


@pytest.mark.parametrize(
    "rows, limit, expected",
    [
        (0, 10, 0),
        (1, 10, 1),
        (10, 10, 10),
        (10, 3, 3),  # every 4th row: 0, 4, 8
        (10, 7, 5),  # every 2nd row
        (1000, 7, 7),
        (999_999, 20_000, 20_000),
        (5, 1, 1),
    ],
)
def test_input_sample_is_bounded_and_spread(rows, limit, expected):
    picked = range(rows)[input_sample(rows, limit)]
    assert len(picked) == expected
    assert len(picked) <= limit
    if rows:
        assert picked[0] == 0
        assert rows - 1 - picked[-1] < picked.step  # reaches the end of the chunk
