"""Label statistics of a batch (complete and partial labels) and the observations they give."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring import calibration
from mlcycle.monitoring.batchstats import BatchStats, ColumnBins, Layout
from mlcycle.monitoring.labelstats import label_stats
from mlcycle.monitoring.limits import observations

EDGES = [0.6, 0.8]
P_B = np.array([0.9, 0.7, 0.2, 0.55, 0.1, 0.95])
PREDICTED = np.array(["b", "b", "a", "b", "a", "b"])
# top probability: .9 .7 .8 .55 .9 .95 -> confidence bins 2 1 2 0 2 2
TABLE = calibration.Table(np.array([10.0, 20.0, 70.0]), np.array([5.0, 14.0, 63.0]), "holdout")


def proba() -> pd.DataFrame:
    return pd.DataFrame({"a": 1 - P_B, "b": P_B})


def stats_of(labels: list, complete: bool, age: int | None = None):
    return label_stats(
        PREDICTED, proba(), pd.Series(labels), "b", EDGES, complete=complete, age_days=age
    )


COMPLETE = ["b", "a", "a", "b", "a", "b"]  # all known: right, wrong, right, right, right, right
PARTIAL = ["b", None, None, "b", None, np.nan]  # positives known early, the rest not yet


def test_complete_labels():
    stats = stats_of(COMPLETE, complete=True)
    assert stats.complete is True
    assert (stats.rows, stats.labelled, stats.correct) == (6, 6, 5)
    assert stats.positive_known == 3
    assert stats.positive_expected == pytest.approx(P_B.sum())
    assert stats.positive_predicted_on_labelled == pytest.approx(P_B.sum())
    # calibration counts: rows per confidence bin and the correct ones among them
    assert stats.bins == {"rows": [1, 1, 4], "correct": [1, 0, 4]}


def test_partial_labels():
    stats = stats_of(PARTIAL, complete=False, age=3)
    assert stats.complete is False
    assert stats.age_days == 3
    assert (stats.rows, stats.labelled, stats.correct) == (6, 2, 2)
    assert stats.positive_known == 2
    # the model's expected positives are over the whole batch, not only the labelled rows
    assert stats.positive_expected == pytest.approx(P_B.sum())
    assert stats.positive_predicted_on_labelled == pytest.approx(0.9 + 0.55)
    assert stats.bins is None  # a biased sample of rows: never calibration counts


def test_no_labels_yet():
    stats = stats_of([None] * 6, complete=False, age=1)
    assert (stats.labelled, stats.correct, stats.positive_known) == (0, 0, 0)
    assert stats.positive_predicted_on_labelled == 0.0
    assert stats.bins is None


def test_json_form():
    doc = stats_of(COMPLETE, complete=True).to_json()
    assert doc["labelled"] == 6 and doc["bins"]["rows"] == [1, 1, 4]
    assert set(doc) == {
        "complete",
        "age_days",
        "rows",
        "labelled",
        "correct",
        "positive_known",
        "positive_expected",
        "positive_predicted_on_labelled",
        "bins",
        "timing_known",
        "timing_expected",
        "due",
    }


# --- observations ---------------------------------------------------------------------------

LAYOUT = Layout(
    features={"x": ColumnBins("numeric", edges=(0.0,))},
    inputs={},
    classes=("a", "b"),
    confidence_edges=tuple(EDGES),
    positive_class="b",
    sources=("src",),
)


def batch() -> BatchStats:
    stats = BatchStats.empty(LAYOUT)
    stats.add(LAYOUT, pd.DataFrame({"x": np.arange(6.0)}), PREDICTED, proba(), {"src": 6})
    return stats


def observed(labels) -> dict:
    return {o.key: o for o in observations(LAYOUT, batch(), labels, TABLE)}


LABEL_RULES = {"EarlyPositiveRate", "RealisedAccuracy", "PositiveRateGap", "EstimateError"}


def label_keys(found: dict) -> set:
    return {k for k, o in found.items() if o.rule in LABEL_RULES}


def test_partial_labels_are_not_scored_as_accuracy():
    # Early labels are mostly positives: judged against their own history (early.py) only.
    assert label_keys(observed(stats_of(PARTIAL, complete=False, age=3))) == set()


def test_timing_bins_count_known_and_expected_positives_per_bin():
    timing = (np.array([0, 0, 1, 1, 2, 2]), 3)
    stats = label_stats(PREDICTED, proba(), pd.Series(PARTIAL), "b", EDGES, False, 1, timing)
    assert stats.timing_known == [1, 1, 0]  # rows 0 and 3 are known positives
    assert stats.timing_expected == pytest.approx([0.9 + 0.7, 0.2 + 0.55, 0.1 + 0.95])
    untimed = label_stats(PREDICTED, proba(), pd.Series(PARTIAL), "b", EDGES, False, 1)
    assert untimed.timing_known == [2] and untimed.timing_expected == pytest.approx([P_B.sum()])


def test_partial_labels_without_an_age_give_nothing():
    assert label_keys(observed(stats_of(PARTIAL, complete=False, age=None))) == set()


def test_complete_labels_give_accuracy_and_the_positive_rate_gap():
    labels = stats_of(COMPLETE, complete=True)
    found = observed(labels)
    assert label_keys(found) == {"RealisedAccuracy", "PositiveRateGap", "EstimateError"}
    assert found["RealisedAccuracy"].value == pytest.approx(5 / 6)
    assert found["RealisedAccuracy"].rows == 6
    assert found["PositiveRateGap"].value == pytest.approx(3 / 6 - P_B.sum() / 6)
    assert found["PositiveRateGap"].row_variance == pytest.approx(0.5 * 0.5)
    # the calibrated estimate of these rows: table accuracy per bin times the rows in it
    accuracy = TABLE.accuracy
    estimated = accuracy[2] * 4 + accuracy[1] + accuracy[0]
    assert found["EstimateError"].value == pytest.approx((estimated - 5) / 6)


def test_no_labelled_rows_give_no_label_observations():
    assert label_keys(observed(stats_of([None] * 6, complete=True))) == set()
    assert label_keys(observed(None)) == set()


def test_label_free_observations_of_the_batch():
    found = observed(None)
    assert found["JoinCoverage/src"].value == 1.0
    assert found["NullRate/x"].value == 0.0
    assert found["PositiveRate"].value == pytest.approx(P_B.mean())
    assert found["PositiveRate"].row_variance == pytest.approx(P_B.var())
    assert found["EstimatedAccuracy"].value == pytest.approx(
        calibration.estimate(np.array([1, 1, 4]), TABLE)["expected_accuracy"]
    )
