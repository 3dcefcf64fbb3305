"""The recovery window: every row trains, the recent ones count more, the newest judge."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.datasets import time_split
from mlcycle.training_window import recent_weighted_split, scheduled_split


def _frame(days: int = 10, per_day: int = 10) -> pd.DataFrame:
    """`per_day` rows a day; ids say the order they were given in, shuffled by time."""
    dates = pd.date_range("2026-01-01", periods=days).repeat(per_day)
    frame = pd.DataFrame({"id": np.arange(len(dates)), "date": dates, "status": "booked"})
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def test_scheduled_split_is_the_time_split_fitted_once_per_row():
    frame = _frame()
    split = scheduled_split(frame, "date", 0.2)
    train_part, holdout = time_split(frame, "date", 0.2)
    pd.testing.assert_frame_equal(split.train_part, train_part)
    pd.testing.assert_frame_equal(split.holdout, holdout)
    assert split.fitted is split.train_part


def test_recent_rows_are_repeated_and_the_holdout_is_the_newest_share_of_them():
    frame = _frame()
    recent = (frame["date"] >= "2026-01-08").to_numpy()  # the newest 3 days: 30 rows
    split = recent_weighted_split(frame, recent, "date", 0.2, weight=3)

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
    recent = (frame["date"] >= "2026-01-06").to_numpy()
    split = recent_weighted_split(frame, recent, "date", 0.2, weight=1)
    assert len(split.holdout) == 10 and split.fitted is split.train_part


def test_the_cut_is_reproducible_whatever_the_row_order_within_a_day():
    frame = _frame()
    recent = (frame["date"] >= "2026-01-09").to_numpy()
    first = recent_weighted_split(frame, recent, "date", 0.25, weight=2)
    again = recent_weighted_split(frame, recent, "date", 0.25, weight=2)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert len(first.holdout) == 5


@pytest.mark.parametrize(
    ("recent", "weight", "message"),
    [(np.ones(3, dtype=bool), 2, "recent mask has 3 entries"), (None, 0, "at least 1")],
)
def test_refuses_a_mask_of_another_length_or_a_weight_below_one(recent, weight, message):
    frame = _frame()
    mask = np.ones(len(frame), dtype=bool) if recent is None else recent
    with pytest.raises(ValueError, match=message):
        recent_weighted_split(frame, mask, "date", 0.2, weight)
