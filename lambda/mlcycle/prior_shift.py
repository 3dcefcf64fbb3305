"""A recovery fit for a world that changed how often each outcome happens: the champion, its
class probabilities re-weighted to the newest batch's mix.

When an outcome becomes more common for every kind of row (a wave of cancellations), a model
fitted on the few batches since has too few rows to relearn the rest: on the demo's concept
drift a fit on the newest batch alone scored 0.69-0.70 on the days after, the champion
re-weighted on that batch 0.71-0.72 (ten later days fitted afresh: 0.70-0.73). Re-weighting
keeps what the history taught and learns one number per class but one from the newest batch:
an offset added to the model's log-probabilities, fitted by maximum likelihood (label-shift
adaptation). In a world that did not change the offsets come out near 0. The recovery's
holdout decides, as for every fit, whether it is offered."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FLOOR = 1e-12  # probabilities are floored before the log: a plug-in may return exact zeros
RIDGE = 1.0  # pulls the offsets toward 0 by about one row's worth of evidence
STEPS, TOLERANCE = 50, 1e-9


@dataclass(frozen=True)
class PriorShifted:
    """What the model store keeps for the fit: the plug-in's model and an offset per class of
    ``classes``. ``Plugin.predict`` applies them; the plug-in's code only ever sees ``model``."""

    model: object
    classes: tuple[str, ...]
    offsets: tuple[float, ...]


def shifted(proba: pd.DataFrame, offsets: np.ndarray) -> pd.DataFrame:
    """Each row's probabilities times exp(offset) of its class, renormalised."""
    logits = np.log(np.clip(proba.to_numpy(dtype="float64"), FLOOR, 1.0)) + offsets
    logits -= logits.max(axis=1, keepdims=True)
    values = np.exp(logits)
    values /= values.sum(axis=1, keepdims=True)
    return pd.DataFrame(values, columns=proba.columns, index=proba.index)


def most_likely(proba: pd.DataFrame) -> np.ndarray:
    """Each row's class of highest probability (an empty array for no rows)."""
    columns = np.asarray(proba.columns, dtype=object)
    return columns[proba.to_numpy().argmax(axis=1)] if len(proba) else columns[:0]


def fit_offsets(proba: pd.DataFrame, target: pd.Series) -> np.ndarray:
    """The offsets (first class 0) that make ``proba`` most likely to have produced ``target``:
    Newton steps on a concave log-likelihood, with a small ridge so that a class the rows
    barely show keeps a finite offset."""
    classes = np.asarray(proba.columns, dtype=object)
    observed = np.asarray(target, dtype=object)[:, None] == classes[None, :]
    offsets = np.zeros(len(classes))
    for _ in range(STEPS):
        p = shifted(proba, offsets).to_numpy()[:, 1:]
        gradient = (observed[:, 1:] - p).sum(axis=0) - RIDGE * offsets[1:]
        hessian = p.T @ p - np.diag(p.sum(axis=0)) - RIDGE * np.eye(len(classes) - 1)
        step = np.linalg.solve(hessian, gradient)
        offsets[1:] -= step
        if np.abs(step).max() < TOLERANCE:
            break
    return offsets
