"""The holdout metrics against scikit-learn's own, and by class name whatever the order."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, log_loss, recall_score

from mlcycle.evaluation import score
from mlcycle.plugin import Predictions

CLASSES = ["booked", "cancelled", "fulfilled"]


def _world(seed: int, rows: int, never_said: str | None = None):
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, rows, p=[0.5, 0.3, 0.2]).astype(object)
    said = [c for c in CLASSES if c != never_said]
    labels = np.where(rng.random(rows) < 0.6, y, rng.choice(said, rows)).astype(object)
    if never_said:
        labels[labels == never_said] = said[0]
    raw = rng.dirichlet([1.0, 1.0, 1.0], rows)
    raw[0] = [0.0, 1.0, 0.0]  # a certain wrong answer: the clip keeps the loss finite
    return pd.Series(y, name="status"), labels, pd.DataFrame(raw, columns=CLASSES)


@pytest.mark.parametrize(
    "seed,rows,never_said", [(1, 500, None), (2, 40, "fulfilled"), (3, 3, None)]
)
def test_the_metrics_are_scikit_learns(seed, rows, never_said):
    y, labels, proba = _world(seed, rows, never_said)
    got = score(y, Predictions(labels, proba), CLASSES)
    expect_recall = recall_score(y, labels, labels=CLASSES, average=None, zero_division=0)
    assert got["rows"] == rows
    assert got["accuracy"] == accuracy_score(y, labels)
    assert got["macro_f1"] == pytest.approx(
        f1_score(y, labels, labels=CLASSES, average="macro", zero_division=0), abs=1e-15
    )
    assert got["recall"] == pytest.approx(dict(zip(CLASSES, expect_recall, strict=True)), abs=1e-15)
    assert got["log_loss"] == pytest.approx(
        log_loss(y, np.clip(proba.to_numpy(), 1e-15, 1), labels=CLASSES), rel=1e-12
    )
    if never_said:
        assert got["recall"][never_said] == 0.0


def test_classes_listed_out_of_order_are_scored_by_name():
    y, labels, proba = _world(4, 300)
    in_order = score(y, Predictions(labels, proba), CLASSES)
    shuffled = ["fulfilled", "booked", "cancelled"]
    out_of_order = score(y, Predictions(labels, proba[shuffled]), shuffled)
    assert out_of_order["log_loss"] == pytest.approx(in_order["log_loss"], rel=1e-12)
    assert out_of_order["macro_f1"] == pytest.approx(in_order["macro_f1"], abs=1e-15)
    assert out_of_order["recall"] == pytest.approx(in_order["recall"], abs=1e-15)


def test_a_true_label_outside_the_classes_is_refused_by_name():
    y, labels, proba = _world(5, 20)
    y.iloc[3] = "no_show"
    with pytest.raises(ValueError, match=r"\['no_show'\] are not among the classes"):
        score(y, Predictions(labels, proba), CLASSES)
