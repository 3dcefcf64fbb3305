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
    split = _weighted(frame, 3, 0.1, weight=3)  # the newest 3 days: 30 rows

    assert len(split.holdout) == 3  # 10% of the 30 recent rows, not of all 100
    assert set(split.holdout["date"]) == {pd.Timestamp("2026-01-10")}
    assert set(split.holdout["id"]).isdisjoint(split.train_part["id"])
    assert len(split.train_part) + len(split.holdout) == len(frame)
    fitted = split.fitted["id"].value_counts()
    newest_trained = split.train_part.loc[split.train_part["date"] >= "2026-01-08", "id"]
    assert (fitted[newest_trained] == 3).all() and len(newest_trained) == 27
    older = split.train_part.loc[split.train_part["date"] < "2026-01-08", "id"]
    assert (fitted[older] == 1).all()
    assert len(split.fitted) == len(older) + 3 * len(newest_trained)


def test_weight_one_fits_every_row_once_with_the_recent_holdout():
    frame = _frame()
    split = _weighted(frame, 5, 0.1, weight=1)
    assert len(split.holdout) == 5 and split.fitted is split.train_part


def test_the_holdout_is_the_newest_batchs_alone_and_at_most_half_of_it():
    """Batches share booking days: the batch before the newest has rows as new as its own,
    and they stay fitted (after a change in behaviour they are the old world's)."""
    dates = pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"] * 10)
    frame = pd.DataFrame({"id": np.arange(40), "date": dates, "status": "booked"})
    recency = np.repeat([1, 0, -1, 0], 10)  # ids 10-19 and 30-39: the newest batch
    splits = recovery_splits(frame, recency, "date", 0.5, 3, 2)

    holdout = splits["weighted"].holdout
    assert len(holdout) == 10  # half of the newest batch's 20 rows (50% of 20 recent: 10)
    assert set(holdout["id"]) <= set(range(10, 20)) | set(range(30, 40))
    # the newest by time of that batch: its rows dated 2026-01-04 first
    assert holdout["date"].min() >= pd.Timestamp("2026-01-03")
    assert holdout["date"].max() == frame["date"].max()
    assert set(splits["newest"].fitted["id"]) == set(range(10, 40)) - set(holdout["id"]) - set(
        range(20, 30)
    )
    capped = recovery_splits(frame, recency, "date", 0.9, 3, 2)["weighted"].holdout
    assert len(capped) == 10  # 90% of 20 recent rows asked, half the newest batch given


def test_the_cut_is_reproducible_whatever_the_row_order_within_a_day():
    frame = _frame()
    first = _weighted(frame, 2, 0.25, weight=2)
    again = _weighted(frame, 2, 0.25, weight=2)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert len(first.holdout) == 5


def test_the_recent_and_the_newest_batches_alone_are_fitted_on_the_same_holdout():
    frame = _frame()
    splits = recovery_splits(frame, _recency(frame, 3), "date", 0.1, 3, 3)
    assert list(splits) == ["weighted", "recent", "newest"]
    holdout = splits["weighted"].holdout
    for split in splits.values():
        pd.testing.assert_frame_equal(split.holdout, holdout)
    recent, newest = splits["recent"].fitted, splits["newest"].fitted
    assert len(recent) == 27 and recent["date"].min() == pd.Timestamp("2026-01-08")
    # The holdout is 3 rows of the newest day: 7 of its 10 rows are fitted.
    assert len(newest) == 7 and set(newest["date"]) == {pd.Timestamp("2026-01-10")}
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
