"""Label-free accuracy estimate: confidence bins, which labels calibrate it, its value."""

import numpy as np
import pytest

from mlcycle.monitoring import calibration
from mlcycle.monitoring.calibration import PRIOR_ROWS, Table


@pytest.mark.parametrize(
    "top",
    [
        np.random.default_rng(0).uniform(0.5, 1.0, 5000),
        # Many ties (a confident model): quantiles repeat, the edges must not
        np.concatenate([np.ones(800), np.full(150, 0.9), np.linspace(0.5, 0.9, 50)]),
    ],
)
def test_confidence_edges_are_increasing_and_unique(top):
    edges = calibration.confidence_edges(top)
    assert 1 <= len(edges) <= calibration.CONFIDENCE_BINS - 1
    assert np.all(np.diff(edges) > 0)
    assert len(set(edges)) == len(edges)
    assert all(isinstance(e, float) for e in edges)


def test_confidence_edges_are_deciles_of_distinct_values():
    top = np.arange(1, 101) / 100  # 0.01 .. 1.00
    expected = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    assert calibration.confidence_edges(top) == pytest.approx(expected)
    assert calibration.confidence_edges(np.array([])) == []


HOLDOUT = {"rows": [100, 100, 100], "correct": [60, 75, 95]}


def test_table_uses_production_alone_once_it_holds_min_rows():
    production = [
        {"rows": [500, 500, 500], "correct": [250, 400, 480]},
        {"rows": [300, 400, 300], "correct": [150, 300, 290]},
    ]
    table = calibration.table(HOLDOUT, production, min_rows=2000)
    assert table.source == "production"
    assert table.rows.tolist() == [800, 900, 800]
    assert table.correct.tolist() == [400, 700, 770]


def test_table_adds_holdout_when_production_is_short():
    production = [{"rows": [500, 500, 500], "correct": [250, 400, 480]}]
    table = calibration.table(HOLDOUT, production, min_rows=2000)
    assert table.source == "holdout+production"
    assert table.rows.tolist() == [600, 600, 600]
    assert table.correct.tolist() == [310, 475, 575]


def test_table_without_production_is_the_holdout():
    table = calibration.table(HOLDOUT, [], min_rows=0)
    assert table.source == "holdout"
    assert table.rows.tolist() == [100, 100, 100]
    assert table.correct.tolist() == [60, 75, 95]


def test_table_ignores_production_counts_on_other_bins():
    production = [{"rows": [5000, 5000], "correct": [1, 1]}]  # another version's bins
    table = calibration.table(HOLDOUT, production, min_rows=10)
    assert table.rows.tolist() == [100, 100, 100]
    assert table.correct.tolist() == [60, 75, 95]


def test_smoothed_accuracy_of_an_empty_bin_is_the_overall_accuracy():
    table = Table(np.array([10.0, 0.0, 30.0]), np.array([5.0, 0.0, 27.0]), "holdout")
    accuracy = table.accuracy
    assert accuracy[1] == pytest.approx(32 / 40)
    # A filled bin is pulled toward the overall accuracy by PRIOR_ROWS pseudo-rows
    assert accuracy[0] == pytest.approx((5 + PRIOR_ROWS * 0.8) / (10 + PRIOR_ROWS))
    assert accuracy[2] == pytest.approx((27 + PRIOR_ROWS * 0.8) / (30 + PRIOR_ROWS))


def test_an_empty_table_estimates_one_half():
    table = Table(np.zeros(3), np.zeros(3), "holdout")
    assert table.accuracy.tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_estimate_of_rows_in_one_bin_is_that_bins_accuracy(index):
    table = calibration.table(HOLDOUT, [], 0)
    counts = np.zeros(3, dtype="int64")
    counts[index] = 1234
    result = calibration.estimate(counts, table)
    assert result["expected_accuracy"] == pytest.approx(table.accuracy[index])
    assert result["row_variance"] == pytest.approx(0.0, abs=1e-15)
    assert result["calibrated_on"] == "holdout"
    assert result["calibration_rows"] == 300


def test_estimate_of_no_rows_is_none():
    assert calibration.estimate(np.zeros(3), calibration.table(HOLDOUT, [], 0)) is None


def test_estimate_weights_bins_by_rows():
    table = calibration.table(HOLDOUT, [], 0)
    result = calibration.estimate(np.array([100, 0, 300]), table)
    assert result["expected_accuracy"] == pytest.approx(
        0.25 * table.accuracy[0] + 0.75 * table.accuracy[2]
    )


def calibrated_rows(rows: int, rng: np.random.Generator, low: float) -> tuple:
    """Top probabilities and whether the prediction was right, with P(right) = top."""
    top = rng.uniform(low, 1.0, rows)
    return top, rng.random(rows) < top


def test_a_calibrated_model_is_estimated_at_its_realised_accuracy():
    rng = np.random.default_rng(42)
    top, correct = calibrated_rows(20_000, rng, low=0.5)
    edges = calibration.confidence_edges(top)
    table = calibration.table(calibration.labelled_bins(top, correct, edges), [], 0)
    # A batch whose confidence mix differs from the holdout's
    batch_top, batch_correct = calibrated_rows(10_000, rng, low=0.7)
    index = np.searchsorted(np.asarray(edges), batch_top, side="right")
    counts = np.bincount(index, minlength=len(edges) + 1)
    result = calibration.estimate(counts, table)
    realised = batch_correct.mean()
    assert realised == pytest.approx(0.85, abs=0.01)
    assert result["expected_accuracy"] == pytest.approx(realised, abs=0.012)
    # ... and the estimate is not just the holdout's overall accuracy (~0.75)
    assert abs(result["expected_accuracy"] - correct.mean()) > 0.05


def test_labelled_bins_count_rows_and_correct_predictions():
    top = np.array([0.55, 0.65, 0.7, 0.95, 0.99])
    correct = np.array([False, True, True, True, False])
    bins = calibration.labelled_bins(top, correct, [0.6, 0.9])
    assert bins == {"rows": [1, 2, 2], "correct": [0, 2, 1]}


def test_standard_error_shrinks_as_calibration_rows_grow():
    shares = np.array([0.6, 0.75, 0.95])
    counts = np.array([300, 300, 400])
    errors = []
    for rows in (100, 1_000, 10_000):
        table = Table(np.full(3, float(rows)), shares * rows, "holdout")
        errors.append(calibration.estimate(counts, table)["standard_error"])
    assert errors[0] > errors[1] > errors[2] > 0
    # about 1 / sqrt(rows)
    assert errors[0] / errors[2] == pytest.approx(10, rel=0.05)
