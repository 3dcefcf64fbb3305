"""Estimated (label-free) and realised performance against hand values and scikit-learn."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from mlcycle.monitoring.performance import estimated_performance, realised_performance


def test_estimated_accuracy_is_the_mean_top_probability():
    proba = pd.DataFrame([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], columns=["booked", "cancelled"])
    result = estimated_performance(proba)
    assert result["expected_accuracy"] == pytest.approx((0.9 + 0.6 + 0.8) / 3)
    assert result["expected_class_shares"] == pytest.approx(
        {"booked": 1.7 / 3, "cancelled": 1.3 / 3}
    )


def test_estimated_accuracy_leaves_out_rows_with_missing_probabilities():
    proba = pd.DataFrame([[0.7, 0.3], [np.nan, np.nan], [0.5, 0.5]], columns=["a", "b"])
    result = estimated_performance(proba)
    assert result["rows"] == 2
    assert result["expected_accuracy"] == pytest.approx(0.6)


def test_no_probabilities_skips_the_estimate_and_says_why():
    result = estimated_performance(None)
    assert result["available"] is False
    assert "labels only" in result["reason"]
    assert "expected_accuracy" not in result


CLASSES = ["a", "b", "c"]
TRUTH = pd.Series(["a", "a", "b", "b", "c", np.nan])
PREDICTED = pd.Series(["a", "b", "b", "b", "a", "c"])


def test_realised_metrics_match_hand_values():
    result = realised_performance(PREDICTED, TRUTH, CLASSES)
    assert result["label_coverage"] == pytest.approx(5 / 6)
    assert result["accuracy"] == pytest.approx(3 / 5)
    # F1 = 2 TP / (true + predicted): a 2/4, b 4/5, c 0/1
    assert result["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert result["recall"] == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0})
    assert result["support"] == {"a": 2, "b": 2, "c": 1}


def test_realised_metrics_match_scikit_learn():
    rng = np.random.default_rng(7)
    truth = pd.Series(rng.choice(CLASSES, 500, p=[0.5, 0.3, 0.2]))
    predicted = pd.Series(np.where(rng.random(500) < 0.6, truth, rng.choice(CLASSES, 500)))
    result = realised_performance(predicted, truth, CLASSES)
    assert result["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert result["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    recalls = recall_score(truth, predicted, average=None, labels=CLASSES)
    assert [result["recall"][c] for c in CLASSES] == pytest.approx(list(recalls))


def test_macro_f1_averages_only_classes_present_in_labels_or_predictions():
    result = realised_performance(pd.Series(["a", "a"]), pd.Series(["a", "b"]), CLASSES)
    # a: 2*1/(1+2) = 2/3, b: 0, c absent on both sides (undefined, not 0)
    assert result["macro_f1"] == pytest.approx(1 / 3)
    assert result["macro_f1"] == pytest.approx(f1_score(["a", "b"], ["a", "a"], average="macro"))
    assert result["recall"]["c"] is None


def test_labels_outside_the_classes_count_as_misses():
    result = realised_performance(pd.Series(["a", "a"]), pd.Series(["a", "typo"]), CLASSES)
    assert result["accuracy"] == 0.5
    assert result["unknown_labels"] == ["typo"]


def test_integer_classes_work_with_float_labels_left_by_missing_values():
    result = realised_performance(pd.Series([0, 1, 1]), pd.Series([0.0, 1.0, np.nan]), [0, 1])
    assert result["accuracy"] == 1.0 and result["labelled_rows"] == 2


def test_no_labels_gives_coverage_zero_and_no_accuracy():
    result = realised_performance(PREDICTED, None, CLASSES)
    assert result["label_coverage"] == 0.0 and result["available"] is False
    assert "accuracy" not in result
    unlabelled = realised_performance(PREDICTED, pd.Series([np.nan] * 6), CLASSES)
    assert unlabelled["label_coverage"] == 0.0 and "accuracy" not in unlabelled


def test_misaligned_labels_are_refused():
    with pytest.raises(ValueError, match="align"):
        realised_performance(PREDICTED, TRUTH[:3], CLASSES)
