"""The history window's parts without S3: its config, which batches are inside, reading in order."""

import datetime as dt
import threading
import time

import pytest

from mlcycle import history_window
from mlcycle.errors import ConfigError, EventError
from mlcycle.events import TrainRequest, parse_train_event
from mlcycle.history_window import HistoryWindow, parse_history_window, read_newest, within_days

DAY0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_the_window_defaults_to_90_days_and_500k_rows_and_null_lifts_a_bound():
    assert parse_history_window({}) == HistoryWindow(90.0, 500_000)
    assert parse_history_window({"window_days": 30, "window_rows": None}) == HistoryWindow(30, None)
    assert parse_history_window({"window_days": None, "window_rows": None}) == HistoryWindow(
        None, None
    )


@pytest.mark.parametrize(
    "training, message",
    [
        ({"window_days": 0}, "training.window_days must be a positive number or null"),
        ({"window_rows": -5}, "training.window_rows must be a positive number or null"),
        ({"window_rows": "all"}, "got 'all'"),
        ({"window_days": True}, "training.window_days must be a positive number"),
    ],
)
def test_a_window_that_is_not_a_positive_number_is_refused_naming_the_key(training, message):
    with pytest.raises(ConfigError, match=message):
        parse_history_window(training)


def test_the_newest_labels_anchor_the_days_and_ties_go_by_batch_id():
    times = {
        "old": DAY0,
        "edge": DAY0 + dt.timedelta(days=10),
        "b": DAY0 + dt.timedelta(days=40),
        "a": DAY0 + dt.timedelta(days=40),
        "newest": DAY0 + dt.timedelta(days=100),
    }
    assert within_days(times, 90) == (["newest", "b", "a", "edge"], ["old"])
    assert within_days(times, 30) == (["newest"], ["b", "a", "edge", "old"])
    assert within_days(times, None) == (["newest", "b", "a", "edge", "old"], [])
    assert within_days({}, 90) == ([], [])


def test_reads_stop_when_nothing_more_is_wanted_and_come_back_in_order(monkeypatch):
    monkeypatch.setattr(history_window, "READ_WORKERS", 4)
    asked: list[str] = []

    def read(batch_id: str) -> str:
        asked.append(batch_id)
        return batch_id.upper()

    ids = [f"b{i}" for i in range(20)]
    assert read_newest(ids, read, lambda done: 6 - len(done)) == [f"B{i}" for i in range(6)]
    assert sorted(asked) == sorted(ids[:6])  # a wave of 4, then one of 2: nothing more
    asked.clear()
    assert len(read_newest(ids, read, lambda done: len(ids))) == 20 and len(asked) == 20


def test_at_most_read_workers_reads_are_in_flight(monkeypatch):
    monkeypatch.setattr(history_window, "READ_WORKERS", 3)
    running, peak, lock = [0], [0], threading.Lock()

    def read(batch_id: str) -> str:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return batch_id

    ids = [str(i) for i in range(10)]
    assert read_newest(ids, read, lambda done: len(ids)) == ids
    assert peak[0] == 3


def test_a_train_payload_asks_for_full_history_and_nothing_else():
    assert parse_train_event({"window": "full"}) == TrainRequest(window="full")
    with pytest.raises(EventError, match="window"):
        parse_train_event({"window": "all"})
    with pytest.raises(EventError, match="window"):
        parse_train_event({"window": 365})
