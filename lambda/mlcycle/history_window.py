"""How much labelled history an ordinary training run reads: its cost follows the window.

Every labelled production batch read costs a handful of requests (manifest, monitor report,
labels, each input) and its rows in memory, so a run that read all of them would grow with
history, and the daily schedule with its square. A window bounds both: batches whose complete
labels arrived within `days` of the newest labels file, newest first, until `rows` labelled
rows are read. The newest labels, not the clock, anchor the days: after a quiet spell training
still sees the last window of labels rather than none.

Reading the window's batches a few at a time (`read_newest`) keeps the request latency of a
run short without holding more than the window in memory: each wave is sized by the rows
still wanted, so a day of a million rows is not read four times over to find one.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from mlcycle.errors import ConfigError

DEFAULT_DAYS = 90.0
DEFAULT_ROWS = 500_000
# Reads in flight at once. With 20 ms added to each S3 request (bench_training --latency-ms 20,
# 60 days on 2 cores) one at a time loaded in 23-32 s, 4 at once in 9-12 s, 8 in 14-17 s: the
# parsing is CPU work, so more threads only contend for the GIL.
READ_WORKERS = 4

T = TypeVar("T")


@dataclass(frozen=True)
class HistoryWindow:
    """None for either bound: no bound of that kind (both None: every labelled batch)."""

    days: float | None = DEFAULT_DAYS
    rows: int | None = DEFAULT_ROWS

    def describe(self) -> dict:
        return {"days": self.days, "rows": self.rows}


FULL_HISTORY = HistoryWindow(None, None)


def _bound(training: dict, key: str, default: float, kind: type) -> float | None:
    value = training.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            f"training.{key} must be a positive number or null (no bound), got {value!r}"
        )
    return kind(value)


def parse_history_window(training: dict) -> HistoryWindow:
    """`training.window_days` and `training.window_rows` of model_config.yml."""
    days = _bound(training, "window_days", DEFAULT_DAYS, float)
    rows = _bound(training, "window_rows", DEFAULT_ROWS, int)
    return HistoryWindow(days, None if rows is None else int(rows))


def within_days(
    label_times: dict[str, dt.datetime], days: float | None
) -> tuple[list[str], list[str]]:
    """(batch ids whose labels arrived within `days` of the newest, newest first; the older
    ones). Ties in time go by batch id, so the order is reproducible."""
    ordered = sorted(label_times, key=lambda b: (label_times[b], b), reverse=True)
    if days is None or not ordered:
        return ordered, []
    oldest = label_times[ordered[0]] - dt.timedelta(days=days)
    inside = [b for b in ordered if label_times[b] >= oldest]
    return inside, ordered[len(inside) :]


def read_newest(
    ids: Sequence[str],
    read: Callable[[str], T],
    still_wanted: Callable[[list[T]], float],
) -> list[T]:
    """`read(id)` for the ids in order, up to READ_WORKERS at once, while
    `still_wanted(results)` (how many more reads are likely needed) is positive; results in the
    order of `ids`."""
    results: list[T] = []
    workers = READ_WORKERS
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while len(results) < len(ids):
            wanted = still_wanted(results)
            if wanted <= 0:
                break
            wave = ids[len(results) : len(results) + min(workers, math.ceil(wanted))]
            results += pool.map(read, wave)
    return results
