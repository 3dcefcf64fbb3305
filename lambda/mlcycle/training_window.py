"""Which rows a model is fitted on and which rows judge it.

Scheduled training fits on every row but the newest `holdout_fraction` by time. The breaker's
recovery retrain fits on the same integrity-clean history, with the rows of the newest
labelled batches counted `recent_weight` times, and is judged on the newest of those rows.
Measured on a demo-like world (bench/bench_recovery.py, 5 seeds): the newest batch alone, the
recovery before, scored 3.0 points below the full-data champion on clean days; every row
counted once learned the demo's concept drift slowly (+7.5 points over the old champion after
three drifted batches, against +20.5 with those batches counted 3 times, which cost 0.1 point
on clean days; 5 times cost 0.9).

The plug-in contract is train(features, target, params), with no sample weights, so weight
is repetition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle.datasets import time_split


@dataclass(frozen=True)
class Split:
    """The time-based split of a training set.

    `train_part` and `holdout` hold each row once (profiles, limits and the class-prior
    baseline describe the data as it is); `fit_rows` are the positions in `train_part` the
    plug-in is fitted on, recent rows repeated.
    """

    train_part: pd.DataFrame
    holdout: pd.DataFrame
    fit_rows: np.ndarray

    @property
    def fitted(self) -> pd.DataFrame:
        if len(self.fit_rows) == len(self.train_part):  # nothing repeated: no copy
            return self.train_part
        return self.train_part.iloc[self.fit_rows].reset_index(drop=True)


def scheduled_split(frame: pd.DataFrame, time_column: str, holdout_fraction: float) -> Split:
    train_part, holdout = time_split(frame, time_column, holdout_fraction)
    return Split(train_part, holdout, np.arange(len(train_part)))


def recovery_splits(
    frame: pd.DataFrame,
    recency: np.ndarray,
    time_column: str,
    holdout_fraction: float,
    weight: int,
    recent_batches: int,
) -> dict[str, Split]:
    """The recovery's fits, all judged on one holdout: the newest batch's newest rows by time,
    as many as `holdout_fraction` of the recent batches' rows and at most half that batch's.

    A holdout sized on the whole history would keep the newest days of labels (a fifth of a
    year of history is weeks of batches) out of the fit, exactly the rows that carry a new
    behaviour; sized on the recent rows it is still the newest labels, which is where the
    recovery's candidates are compared. It is drawn from the newest batch alone because
    batches share booking days: the newest rows by time from every batch were, after a change
    in behaviour, half rows of the batch before it, and a fit halfway between the two worlds
    (the recent batches alone) won there over one of the new world (bench/bench_recovery.py,
    one drifted batch labelled). Half the batch stays fitted, so that the newest batch alone
    and the re-weighting (`mlcycle.recovery_fits`) have rows. Rows with the same time keep
    their order (stable sort), so the cut is reproducible.

    `recency` is each row's labelled batch, 0 the newest, -1 the training sources. `weighted`
    fits every row with those of the newest `recent_batches` batches counted `weight` times;
    `recent` fits those batches alone and `newest` the newest batch alone. After a lasting
    change in behaviour the history outvotes the few batches that show it: on the demo's
    concept drift the newest batch alone scored 0.68-0.71 on the days after, the weighted fit
    0.44-0.61 (bench/bench_recovery.py). On a world that did not change the weighted fit is
    the better one, and the holdout tells them apart. A fit on the same rows as another, or on
    no rows, is not offered.
    """
    recency = np.asarray(recency)
    if len(recency) != len(frame):
        raise ValueError(f"recency has {len(recency)} entries for {len(frame)} rows")
    if weight < 1:
        raise ValueError(f"recent weight must be at least 1, got {weight}")
    order = np.argsort(frame[time_column].to_numpy(), kind="stable")
    ordered = frame.iloc[order].reset_index(drop=True)
    rank = recency[order]
    recent = (rank >= 0) & (rank < recent_batches)
    newest = np.flatnonzero(rank == 0)
    # Without labelled batches (training sources only) the newest rows of all judge.
    pool, cap = (
        (newest, len(newest) // 2) if len(newest) else (np.arange(len(frame)), len(frame) - 1)
    )
    held = max(min(int(round(holdout_fraction * recent.sum())), cap), 1)
    judged = np.zeros(len(frame), dtype=bool)
    judged[pool[len(pool) - held :]] = True
    kept = np.flatnonzero(~judged)
    train_part = ordered.iloc[kept].reset_index(drop=True)
    holdout = ordered[judged].reset_index(drop=True)
    fits = {
        "weighted": np.repeat(np.arange(len(kept)), np.where(recent[kept], weight, 1)),
        "recent": np.flatnonzero(recent[kept]),
        "newest": np.flatnonzero(rank[kept] == 0),
    }
    splits: dict[str, Split] = {}
    for name, rows in fits.items():
        if len(rows) and not any(np.array_equal(rows, s.fit_rows) for s in splits.values()):
            splits[name] = Split(train_part, holdout, rows)
    return splits
