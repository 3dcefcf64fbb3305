"""The early positive rule: partial labels against what recent batches had revealed by the same
age, bin by bin of the label-timing column."""

from dataclasses import replace

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


def _window_entry(batch_id: str, version: str, edges, early_level: int = 0) -> dict:
    return {
        "batch_id": batch_id,
        "model_version": version,
        "published_at": f"2026-01-{batch_id[-2:]}T00:00:00",
        "levels": {"EarlyPositiveRate": early_level},
        "early": {"age1": {"known": [1, 2], "expected": [2.0, 4.0], "edges": edges}},
    }


def test_a_new_version_borrows_history_on_the_same_timing_bins_until_it_has_its_own():
    from mlcycle.monitoring.window import early_history

    edges, other_edges = [0.0, 5.0, 30.0], [0.0, 6.0, 31.0]
    old = [_window_entry(f"b{i:02d}", "v0001", edges) for i in range(1, 7)]
    elsewhere = [_window_entry(f"c{i:02d}", "v0002", other_edges) for i in range(10, 13)]
    breached = [_window_entry("d20", "v0001", edges, early_level=2)]
    window = {"accepted_since": None, "entries": old + elsewhere + breached}
    # v0003 keeps v0001's bins: its five-batch minimum is made up from v0001's calm batches,
    # never from another version's bins or from a batch the rule itself flagged.
    borrowed, flag = early_history(window, 1, "v0003", "x", edges, 5)
    assert (len(borrowed), flag) == (6, True)
    assert early_history(window, 1, "v0003", "x", None, 5) == ([], False)
    own = [_window_entry(f"e{i:02d}", "v0003", edges) for i in range(21, 26)]
    window["entries"] += own
    assert early_history(window, 1, "v0003", "x", edges, 5) == (
        [e["early"]["age1"] for e in own],
        False,
    )


def test_a_borrowed_range_judges_each_batch_alone_and_starts_no_sequence():
    # After a lasting change a recovery model's partial labels sit a little off the earlier
    # versions' timing: three such batches at z +2.5 must not add up to a trip on a fourth.
    from mlcycle.monitoring.judge import _judge_one
    from mlcycle.monitoring.rules import TRIP, parse_settings

    rng = np.random.default_rng(3)
    expected = np.array([100.0, 300.0, 200.0])
    observation, normal = early_observation(
        labels(np.rint(SHARE * expected), expected), history(20, rng), 5, borrowed=True
    )
    assert normal.source == "earlier versions"
    offset = 1.0 + 2.5 * normal.sd
    observation = replace(observation, value=offset)
    earlier = [
        {
            "batch_id": f"p{i}",
            "model_version": "v0033",
            "published_at": f"2026-01-2{i}",
            "z": {"EarlyPositiveRate": 2.5},
        }
        for i in range(3)
    ]
    window = {"accepted_since": None, "entries": earlier}
    own = _judge_one(
        observation, replace(normal, source="window"), window, parse_settings({}), "v0033", "b"
    )
    alone = _judge_one(observation, normal, window, parse_settings({}), "v0033", "b")
    assert own["level"] == TRIP and own["cusum"] > 4  # what seed 3's day 29 met
    assert alone["level"] < TRIP and alone["cusum"] == 0.0 and alone["basis"] == "earlier versions"
