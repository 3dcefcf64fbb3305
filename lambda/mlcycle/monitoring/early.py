"""Partial labels against what they should show by now: the early positive rule.

Positives become known over time, and how fast depends on the row (the example model's
cancellations are known the day they happen, which for a booking three days ahead is soon
and for one three months ahead is late). So the positives known by a given age are compared
with the positives the model expects, per bin of the label-timing column, scaled by the share
of them that recent healthy batches had revealed at the same age. A batch of last-minute
bookings then expects more known cancellations and is not mistaken for a cancellation wave;
a real wave shows more than expected in every bin.

The value is known / expected (1 when normal). Its spread is Poisson's, widened by what
the history shows beyond it and by the uncertainty of the shares learnt from history.
"""

from __future__ import annotations

import numpy as np

from .labelstats import LabelStats
from .limits import Expected, Observation

PRIOR = 5.0  # expected positives pulling a thin bin's share toward the overall share


def _arrays(history: list[dict], field: str, size: int) -> np.ndarray:
    return np.array([h[field] for h in history if len(h[field]) == size], dtype="float64")


def early_observation(
    labels: LabelStats, history: list[dict], min_batches: int, borrowed: bool = False
) -> tuple[Observation, Expected] | None:
    """The observation and its normal range, None with too little history at this age.

    A range ``borrowed`` from earlier versions judges each batch on its own but starts no
    sequence: after a lasting change those versions' batches show the old world's label
    timing, and a recovery model's small offsets from it added up to a trip on clean batches
    (demo seed 3, day 29: z -0.3, sequential 15.7)."""
    if labels.timing_known is None or labels.timing_expected is None or labels.age_days is None:
        return None
    size = len(labels.timing_known)
    known, expected = _arrays(history, "known", size), _arrays(history, "expected", size)
    if len(known) < min_batches or len(known) != len(expected) or expected.sum() <= 0:
        return None
    pooled_known, pooled_expected = known.sum(axis=0), expected.sum(axis=0)
    overall = pooled_known.sum() / pooled_expected.sum()
    share = (pooled_known + PRIOR * overall) / (pooled_expected + PRIOR)
    current = np.asarray(labels.timing_expected, dtype="float64")
    due = float(share @ current)
    if due <= 0:
        return None
    value = float(np.sum(labels.timing_known)) / due
    past_due = expected @ share
    ratios = known.sum(axis=1) / np.maximum(past_due, 1e-9)
    dispersion = max(
        1.0, float(ratios.var(ddof=1)) / float(np.mean(1 / np.maximum(past_due, 1e-9)))
    )
    learnt = float(np.sum((share * current) ** 2 / (pooled_known + PRIOR))) / due**2
    sd = float(np.sqrt(dispersion / due + learnt))
    observation = Observation(
        "EarlyPositiveRate", f"age{labels.age_days}", value, due, "ratio", one_sequence=True
    )
    source = "earlier versions" if borrowed else "window"
    return observation, Expected(1.0, sd, source, len(known))
