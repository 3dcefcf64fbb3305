"""Re-weighting a model's class probabilities to a new class mix (a recovery fit)."""

import numpy as np
import pandas as pd

from mlcycle.prior_shift import fit_offsets, most_likely, shifted

CLASSES = ["booked", "cancelled", "fulfilled"]


def _world(offsets, rows=20_000, seed=0):
    """A model's probabilities, and outcomes drawn from them shifted by `offsets`."""
    rng = np.random.default_rng(seed)
    proba = pd.DataFrame(rng.dirichlet([2.0, 1.0, 3.0], rows), columns=CLASSES)
    truth = shifted(proba, np.asarray(offsets)).to_numpy()
    drawn = (rng.random(rows)[:, None] > truth.cumsum(axis=1)).sum(axis=1)
    return proba, pd.Series(np.asarray(CLASSES, dtype=object)[drawn])


def test_the_offsets_that_made_the_outcomes_are_found():
    proba, target = _world([0.0, 1.5, -0.5])
    assert np.allclose(fit_offsets(proba, target), [0.0, 1.5, -0.5], atol=0.08)


def test_outcomes_the_model_already_expects_give_offsets_near_zero():
    proba, target = _world([0.0, 0.0, 0.0], seed=1)
    assert np.abs(fit_offsets(proba, target)).max() < 0.06


def test_a_class_absent_from_the_rows_keeps_a_finite_offset():
    proba, target = _world([0.0, 0.0, 0.0], rows=300, seed=2)
    offsets = fit_offsets(proba, target.replace("cancelled", "booked"))
    assert np.isfinite(offsets).all() and offsets[1] < -3


def test_shifted_probabilities_are_renormalised_and_zero_offsets_change_nothing():
    proba = pd.DataFrame([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], columns=CLASSES)
    assert np.allclose(shifted(proba, np.zeros(3)), proba)
    moved = shifted(proba, np.array([0.0, np.log(3), 0.0]))
    assert np.allclose(moved.iloc[0], [0.25, 0.75, 0.0]) and np.allclose(moved.sum(axis=1), 1)
    assert most_likely(moved).tolist() == ["cancelled", "cancelled"]
    assert most_likely(proba.iloc[:0]).tolist() == []
