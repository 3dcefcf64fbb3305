"""The recovery window: every row trains, the recent ones count more, the newest judge; the
recent batches alone and the newest alone are fitted beside it on the same holdout."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.datasets import time_split
from mlcycle.training_window import recovery_splits, scheduled_split


def _frame(days: int = 10, per_day: int = 10) -> pd.DataFrame:
    """`per_day` rows a day; ids say the order they were given in, shuffled by time."""
    dates = pd.date_range("2026-01-01", periods=days).repeat(per_day)
    frame = pd.DataFrame({"id": np.arange(len(dates)), "date": dates, "status": "booked"})
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _recency(frame: pd.DataFrame, newest_days: int) -> np.ndarray:
    """Each day its own labelled batch: 0 the newest, -1 older than `newest_days` (sources)."""
    age = (frame["date"].max() - frame["date"]).dt.days.to_numpy()
    return np.where(age < newest_days, age, -1)


def _weighted(frame, newest_days, holdout_fraction, weight):
    recency = _recency(frame, newest_days)
    return recovery_splits(frame, recency, "date", holdout_fraction, weight, newest_days)[
        "weighted"
    ]


def test_scheduled_split_is_the_time_split_fitted_once_per_row():
    frame = _frame()
    split = scheduled_split(frame, "date", 0.2)
    train_part, holdout = time_split(frame, "date", 0.2)
    pd.testing.assert_frame_equal(split.train_part, train_part)
    pd.testing.assert_frame_equal(split.holdout, holdout)
    assert split.fitted is split.train_part


def test_recent_rows_are_repeated_and_the_holdout_is_the_newest_share_of_them():
    frame = _frame()
    split = _weighted(frame, 3, 0.2, weight=3)  # the newest 3 days: 30 rows

    assert len(split.holdout) == 6  # 20% of the 30 recent rows, not of all 100
    assert split.holdout["date"].min() >= split.train_part["date"].max()
    assert set(split.holdout["id"]).isdisjoint(split.train_part["id"])
    assert len(split.train_part) + len(split.holdout) == len(frame)
    fitted = split.fitted["id"].value_counts()
    newest_trained = split.train_part.loc[split.train_part["date"] >= "2026-01-08", "id"]
    assert (fitted[newest_trained] == 3).all() and len(newest_trained) == 24
    older = split.train_part.loc[split.train_part["date"] < "2026-01-08", "id"]
    assert (fitted[older] == 1).all()
    assert len(split.fitted) == len(older) + 3 * len(newest_trained)


def test_weight_one_fits_every_row_once_with_the_recent_holdout():
    frame = _frame()
    split = _weighted(frame, 5, 0.2, weight=1)
    assert len(split.holdout) == 10 and split.fitted is split.train_part


def test_the_cut_is_reproducible_whatever_the_row_order_within_a_day():
    frame = _frame()
    first = _weighted(frame, 2, 0.25, weight=2)
    again = _weighted(frame, 2, 0.25, weight=2)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert len(first.holdout) == 5


def test_the_recent_and_the_newest_batches_alone_are_fitted_on_the_same_holdout():
    frame = _frame()
    splits = recovery_splits(frame, _recency(frame, 3), "date", 0.2, 3, 3)
    assert list(splits) == ["weighted", "recent", "newest"]
    holdout = splits["weighted"].holdout
    for split in splits.values():
        pd.testing.assert_frame_equal(split.holdout, holdout)
    recent, newest = splits["recent"].fitted, splits["newest"].fitted
    assert len(recent) == 24 and recent["date"].min() == pd.Timestamp("2026-01-08")
    # The holdout is the newest 6 rows, all of the newest day: 4 of its 10 rows are fitted.
    assert len(newest) == 4 and set(newest["date"]) == {pd.Timestamp("2026-01-10")}
    assert set(newest["id"]).isdisjoint(holdout["id"])


def test_a_fit_on_the_same_rows_as_another_is_offered_once():
    frame = _frame()
    one = recovery_splits(frame, _recency(frame, 1), "date", 0.2, 3, 1)
    assert list(one) == ["weighted", "recent"]  # the newest batch is the recent window
    sources_only = recovery_splits(frame, np.full(len(frame), -1), "date", 0.2, 3, 3)
    assert list(sources_only) == ["weighted"]


@pytest.mark.parametrize(
    ("recency", "weight", "message"),
    [(np.zeros(3, dtype=int), 2, "recency has 3 entries"), (None, 0, "at least 1")],
)
def test_refuses_a_recency_of_another_length_or_a_weight_below_one(recency, weight, message):
    frame = _frame()
    ranks = np.zeros(len(frame), dtype=int) if recency is None else recency
    with pytest.raises(ValueError, match=message):
        recovery_splits(frame, ranks, "date", 0.2, weight, 3)
