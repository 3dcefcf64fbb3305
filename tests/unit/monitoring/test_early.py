"""The early positive rule: partial labels against what recent batches had revealed by the same
age, bin by bin of the label-timing column."""

import numpy as np
import pytest

from mlcycle.monitoring.early import early_observation
from mlcycle.monitoring.labelstats import LabelStats

SHARE = np.array([0.6, 0.2, 0.05])  # share of positives known by age 1: soon, later, far off


def labels(known, expected, age=1) -> LabelStats:
    return LabelStats(
        complete=False,
        age_days=age,
        rows=2000,
        labelled=int(sum(known)),
        correct=0,
        positive_known=int(sum(known)),
        positive_expected=float(sum(expected)),
        positive_predicted_on_labelled=0.0,
        bins=None,
        timing_known=list(known),
        timing_expected=list(expected),
    )


def history(batches: int, rng) -> list[dict]:
    expected = np.array([100.0, 300.0, 200.0])
    return [
        {"known": rng.poisson(SHARE * expected).tolist(), "expected": expected.tolist()}
        for _ in range(batches)
    ]


def test_too_little_history_gives_no_verdict():
    rng = np.random.default_rng(0)
    assert early_observation(labels([60, 60, 10], [100, 300, 200]), history(4, rng), 5) is None


def test_a_batch_of_soon_known_rows_is_not_a_positive_wave():
    # Mostly rows whose labels are known soon (a last-minute campaign): more positives known
    # in total, exactly as many as their bin shares say.
    rng = np.random.default_rng(1)
    expected = np.array([400.0, 100.0, 50.0])
    observation, normal = early_observation(
        labels(np.rint(SHARE * expected), expected), history(20, rng), 5
    )
    assert observation.value == pytest.approx(1.0, abs=0.05)
    assert abs((observation.value - normal.centre) / normal.sd) < 1
    assert observation.key == "EarlyPositiveRate/age1"
    assert observation.sequence_key == "EarlyPositiveRate"


def test_more_positives_in_every_bin_stand_out():
    rng = np.random.default_rng(2)
    expected = np.array([100.0, 300.0, 200.0])
    observation, normal = early_observation(
        labels(np.rint(1.4 * SHARE * expected), expected), history(20, rng), 5
    )
    assert observation.value == pytest.approx(1.4, abs=0.06)
    assert (observation.value - normal.centre) / normal.sd > 4
