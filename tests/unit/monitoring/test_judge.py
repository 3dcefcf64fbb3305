"""Judging a batch end to end on a tiny world: reference limits, the window, the CUSUM."""

import numpy as np
import pandas as pd
import pytest

from mlcycle.monitoring import window as windows
from mlcycle.monitoring.batchstats import BatchStats, Layout
from mlcycle.monitoring.judge import Version, judge
from mlcycle.monitoring.limits import Observation, expected
from mlcycle.monitoring.profile import build_reference_profile
from mlcycle.monitoring.registration import holdout_limits
from mlcycle.monitoring.rules import OK, TRIP, WARN, parse_settings

KINDS = {"x": "numeric", "c": "categorical"}
CATEGORIES, CATEGORY_SHARES = ["u", "v", "w"], [0.5, 0.3, 0.2]
COVERAGE = 0.97
VERSION = "v1"
ROWS = 2000


def draw(rows: int, seed: int, shift: float = 0.0):
    """Features, probabilities (calibrated: labels drawn from them), predictions and labels.

    Probabilities do not depend on the features: there is no model, so a feature can drift
    without the predictions moving.
    """
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "c": rng.choice(CATEGORIES, rows, p=CATEGORY_SHARES),
        }
    )
    p_b = np.clip(rng.beta(0.6, 1.2, rows), 0.01, 0.99)  # mostly confident, "one-hot-ish"
    proba = pd.DataFrame({"a": 1 - p_b, "b": p_b})
    predicted = np.where(p_b >= 0.5, "b", "a")
    labels = pd.Series(np.where(rng.random(rows) < p_b, "b", "a"))
    return features, proba, predicted, labels


@pytest.fixture(scope="module")
def world():
    features, proba, predicted, labels = draw(20_000, seed=100)
    profile = build_reference_profile(features, KINDS, proba, labels)
    holdout, h_proba, h_predicted, h_labels = draw(8000, seed=101)
    limits = holdout_limits(
        profile, holdout, None, h_predicted, h_proba, h_labels, "b", {"src": COVERAGE}
    )
    layout = Layout.of(profile, limits, ["src"], "b")
    return profile, limits, layout


def batch_stats(layout: Layout, seed: int, matched: float, rows: int = ROWS, shift: float = 0.0):
    features, proba, predicted, _ = draw(rows, seed, shift)
    stats = BatchStats.empty(layout)
    stats.add(layout, features, predicted, proba, {"src": round(matched * rows)})
    return stats


def run(world, stats, window=None, settings=None, batch_id="today"):
    profile, limits, layout = world
    return judge(
        Version(VERSION, layout, limits, profile),
        stats,
        None,
        window or windows.empty(),
        settings or parse_settings({}),
        batch_id,
    )


def entry_of(stats: BatchStats, result: dict, batch_id: str, day: int) -> dict:
    """The window entry verdicts.remember writes for a judged batch."""
    published = f"2024-03-{day:02d}T06:00:00+00:00"
    return windows.entry(batch_id, VERSION, published, stats, result, None)


def test_registration_measures_the_reference_values(world):
    _, limits, layout = world
    assert limits["reference"]["JoinCoverage/src"] == COVERAGE
    assert limits["rows"] == 8000
    assert len(layout.confidence_edges) == 9
    assert sum(limits["calibration"]["rows"]) == 8000
    assert limits["reference"]["NullRate/x"] == 0.0
    # calibrated probabilities: the estimate matches the realised accuracy on the holdout
    assert limits["reference"]["EstimatedAccuracy"] == pytest.approx(
        limits["reference"]["RealisedAccuracy"], abs=0.01
    )
    assert limits["reference"]["PositiveRateGap"] == pytest.approx(0.0, abs=0.02)


def test_a_clean_batch_is_ok(world):
    result = run(world, batch_stats(world[2], seed=1, matched=COVERAGE))
    join = result["verdicts"]["JoinCoverage"]
    assert join["level"] == OK
    assert join["basis"] == "reference"
    assert join["value"] == pytest.approx(0.97)
    assert join["z"] == pytest.approx(0.0, abs=0.1)
    assert result["trips"] == []
    assert result["level"] == OK
    assert result["z"] == {}  # z is remembered for the sequential rule only against a window


def test_low_join_coverage_trips(world):
    result = run(world, batch_stats(world[2], seed=1, matched=0.80))
    join = result["verdicts"]["JoinCoverage"]
    assert join["level"] == TRIP
    assert join["z"] < -5
    assert join["centre"] == COVERAGE
    assert join["sd"] == pytest.approx(np.sqrt(COVERAGE * (1 - COVERAGE) / ROWS))
    assert "JoinCoverage" in result["trips"]
    assert result["level"] == TRIP


def test_drift_alone_warns_and_never_trips(world):
    result = run(world, batch_stats(world[2], seed=1, matched=COVERAGE, shift=1.0))
    assert result["verdicts"]["FeatureDrift"]["level"] == WARN
    assert result["verdicts"]["FeatureDrift"]["columns"] == ["x"]
    assert result["drift"]["drifted"] == ["x"]
    assert result["trips"] == []
    assert result["level"] == WARN
    assert result["likely_cause"] == []  # a cause is named only for a trip


def test_a_trip_names_the_drift_present_as_the_likely_cause(world):
    result = run(world, batch_stats(world[2], seed=1, matched=0.80, shift=1.0))
    assert result["trips"] == ["JoinCoverage"]
    assert result["likely_cause"] == ["x"]


def test_an_explicit_trip_below_trips_regardless_of_the_measured_range(world):
    settings = parse_settings({"rules": {"JoinCoverage": {"trip_below": 0.99}}})
    result = run(world, batch_stats(world[2], seed=1, matched=COVERAGE), settings=settings)
    join = result["verdicts"]["JoinCoverage"]
    assert join["level"] == TRIP
    assert "explicit" in join["reason"]
    assert "JoinCoverage" in result["trips"]
    # ...and a low value above an explicit floor is ok, however far from the measured centre
    settings = parse_settings({"rules": {"JoinCoverage": {"trip_below": 0.5}}})
    result = run(world, batch_stats(world[2], seed=1, matched=0.80), settings=settings)
    assert result["verdicts"]["JoinCoverage"]["level"] == OK


def test_an_explicit_limit_on_a_warn_only_rule_only_warns(world):
    settings = parse_settings({"rules": {"PositiveRate": {"trip_above": 0.01}}})
    result = run(world, batch_stats(world[2], seed=1, matched=COVERAGE), settings=settings)
    assert result["verdicts"]["PositiveRate"]["level"] == WARN
    assert result["trips"] == []


def test_a_disabled_rule_is_level_zero(world):
    settings = parse_settings({"rules": {"JoinCoverage": {"enabled": False}}})
    result = run(world, batch_stats(world[2], seed=1, matched=0.80), settings=settings)
    join = result["verdicts"]["JoinCoverage"]
    assert join["level"] == OK
    assert "disabled" in join["reason"]
    assert result["trips"] == []


# --- the window ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_window(world):
    """Six clean batches judged and remembered one after the other, as the monitor does."""
    rng = np.random.default_rng(7)
    window, bases = windows.empty(), []
    for day in range(1, 7):
        stats = batch_stats(world[2], seed=10 + day, matched=rng.binomial(ROWS, COVERAGE) / ROWS)
        result = run(world, stats, window=window, batch_id=f"b{day}")
        bases.append(result["verdicts"]["JoinCoverage"]["basis"])
        assert result["trips"] == []
        window = windows.upsert(window, entry_of(stats, result, f"b{day}", day), keep=20)
    return window, bases


def test_the_window_takes_over_after_min_window_healthy_batches(world, clean_window):
    window, bases = clean_window
    assert bases == ["reference"] * 5 + ["window"]
    result = run(world, batch_stats(world[2], seed=30, matched=COVERAGE), window=window)
    join = result["verdicts"]["JoinCoverage"]
    assert join["basis"] == "window"
    assert join["level"] == OK
    history = windows.history(window, "JoinCoverage/src", VERSION, "today", 5)
    assert join["centre"] == pytest.approx(np.mean([v for v, _ in history]))
    assert "JoinCoverage/src" in result["z"]
    assert result["verdicts"]["EstimatedAccuracy"]["basis"] == "window"


def test_a_batch_where_something_tripped_is_not_learnt_from(world, clean_window):
    window, _ = clean_window
    stats = batch_stats(world[2], seed=31, matched=0.80)
    result = run(world, stats, window=window, batch_id="bad")
    assert "JoinCoverage" in result["trips"]
    window = windows.upsert(window, entry_of(stats, result, "bad", 7), keep=20)
    assert len(window["entries"]) == 7
    for key in ("JoinCoverage/src", "NullRate/x", "PositiveRate"):
        history = windows.history(window, key, VERSION, "today", 5)
        assert len(history) == 6, key
    coverage = [v for v, _ in windows.history(window, "JoinCoverage/src", VERSION, "today", 5)]
    assert min(coverage) > 0.9
    # nor is it pooled into the drift baseline
    pooled = windows.pooled(window, "counts", VERSION, "today", 5)
    assert pooled["x"].sum() == 6 * ROWS


def test_accepting_a_shift_learns_from_batches_that_warned(world, clean_window):
    window, _ = clean_window
    shifted = dict(window)
    for day in (7, 8):
        stats = batch_stats(world[2], seed=40 + day, matched=COVERAGE, shift=1.0)
        result = run(world, stats, window=shifted, batch_id=f"s{day}")
        assert result["verdicts"]["FeatureDrift"]["level"] == WARN
        entry = entry_of(stats, result, f"s{day}", day)
        entry["levels"]["JoinCoverage"] = WARN  # as if the coverage had warned too
        shifted = windows.upsert(shifted, entry, keep=20)
    # Before acceptance: six quiet batches are enough, the warned ones are left out
    assert len(windows.history(shifted, "JoinCoverage/src", VERSION, "today", 5)) == 6
    assert windows.pooled(shifted, "counts", VERSION, "today", 5)["x"].sum() == 6 * ROWS
    accepted = windows.accept(shifted, "2024-03-07T00:00:00+00:00", "ops@example.com")
    assert accepted["accepted_by"] == "ops@example.com"
    history = windows.history(accepted, "JoinCoverage/src", VERSION, "today", 5)
    assert len(history) == 2  # only the batches from the acceptance on, warnings and all
    assert windows.pooled(accepted, "counts", VERSION, "today", 2)["x"].sum() == 2 * ROWS


def test_a_warned_batch_counts_when_too_few_quiet_ones_remain():
    entries = [
        {
            "batch_id": f"b{i}",
            "model_version": VERSION,
            "published_at": f"2024-03-0{i}",
            "values": {"NullRate/x": 0.01 * i},
            "sizes": {"NullRate/x": 100},
            "z": {},
            "levels": {"NullRate": WARN if i > 3 else OK},
        }
        for i in range(1, 7)
    ]
    window = {**windows.empty(), "entries": entries}
    assert [v for v, _ in windows.history(window, "NullRate/x", VERSION, "x", 3)] == [
        0.01,
        0.02,
        0.03,
    ]
    assert len(windows.history(window, "NullRate/x", VERSION, "x", 4)) == 6


def test_a_model_statistic_never_learns_from_batches_whose_inputs_drifted():
    # Demo seed 3: a campaign the model handled well (days 15-16 at 0.84) widened the accuracy
    # range until a corrupted feature at 0.58 passed on complete labels at z -1.3.
    accuracy = [0.84, 0.84, 0.66, 0.64, 0.67, 0.65, 0.66]
    entries = [
        {
            "batch_id": f"b{i}",
            "model_version": VERSION,
            "published_at": f"2024-03-1{i}",
            "values": {"RealisedAccuracy": a, "NullRate/x": 0.01},
            "sizes": {"RealisedAccuracy": 2000, "NullRate/x": 2000},
            "z": {},
            "levels": {"FeatureDrift": WARN if i < 2 else OK},
        }
        for i, a in enumerate(accuracy)
    ]
    window = {**windows.empty(), "entries": entries}
    learnt = [v for v, _ in windows.history(window, "RealisedAccuracy", VERSION, "x", 5)]
    assert learnt == accuracy[2:]
    # The data's own statistics still learn from them, and so does every statistic once the
    # operator accepts the shift as the new normal.
    assert len(windows.history(window, "NullRate/x", VERSION, "x", 5)) == 7
    accepted = {**window, "accepted_since": "2024-03-10"}
    assert len(windows.history(accepted, "RealisedAccuracy", VERSION, "x", 5)) == 7


def test_the_calibration_table_never_learns_from_batches_whose_inputs_drifted():
    # Demo seed 6: corrupted lead times (warned, never tripped) kept the model's confidence at
    # 0.58 accuracy; learnt by the table, they pulled the clean batches' estimate to a trip.
    entries = [
        {
            "batch_id": f"b{i}",
            "model_version": VERSION,
            "published_at": f"2024-03-1{i}",
            "levels": {"FeatureDrift": WARN if i in (3, 4) else OK},
            "calibration": {"rows": [1000], "correct": [580 if i in (3, 4) else 650]},
        }
        for i in range(6)
    ]
    window = {**windows.empty(), "entries": entries}
    learnt = windows.calibration_entries(window, VERSION, 7)
    assert [c["correct"] for c in learnt] == [[650]] * 4
    accepted = {**window, "accepted_since": "2024-03-10"}
    assert len(windows.calibration_entries(accepted, VERSION, 7)) == 6


# --- the sequential rule -------------------------------------------------------------------

# Day-to-day coverage of healthy batches: their spread widens the normal range beyond what
# the row count alone explains, so a z of -2 is also a material (>= 0.01) shortfall.
HEALTHY = [0.962, 0.978, 0.966, 0.974, 0.970, 0.958, 0.970, 0.982]


@pytest.fixture(scope="module")
def healthy_window(world):
    window = windows.empty()
    for day, coverage in enumerate(HEALTHY, start=1):
        stats = batch_stats(world[2], seed=200 + day, matched=coverage)
        result = run(world, stats, window=window, batch_id=f"h{day}")
        assert result["trips"] == []
        window = windows.upsert(window, entry_of(stats, result, f"h{day}", day), keep=30)
    return window


def with_prior_z(window: dict, zs: list[float]) -> dict:
    """The window plus batches whose coverage standardised to ``zs`` (they warned, so they
    are not learnt from: the normal range stays that of the healthy batches)."""
    for i, z in enumerate(zs):
        entry = {
            "batch_id": f"z{i}",
            "model_version": VERSION,
            "published_at": f"2024-03-{10 + i:02d}T06:00:00+00:00",
            "rows": ROWS,
            "values": {"JoinCoverage/src": 0.95},
            "sizes": {"JoinCoverage/src": ROWS},
            "z": {"JoinCoverage/src": z},
            "levels": {"JoinCoverage": WARN},
        }
        window = windows.upsert(window, entry, keep=30)
    return window


DEFAULTS = parse_settings({})


def page_cusum_low(zs: list[float], k: float = DEFAULTS.cusum_k) -> float:
    low = 0.0
    for z in zs:
        low = max(0.0, low - z - k)
    return low


@pytest.fixture(scope="module")
def moderately_low(world, healthy_window):
    """A coverage whose z against the healthy window is about -2.2."""
    history = windows.history(healthy_window, "JoinCoverage/src", VERSION, "today", 5)
    probe = Observation("JoinCoverage", "src", COVERAGE, ROWS, "share")
    normal = expected(probe, world[1], history, 5)
    assert normal.source == "window"
    coverage = round((normal.centre - 2.2 * normal.sd) * ROWS) / ROWS
    assert normal.centre - coverage >= 0.01  # material: only the z is moderate
    return coverage


def test_a_run_of_moderately_low_coverage_trips_through_the_sequential_rule(
    world, healthy_window, moderately_low
):
    levels = []
    for prior in range(9):
        window = with_prior_z(healthy_window, [-2.0] * prior)
        stats = batch_stats(world[2], seed=300, matched=moderately_low)
        result = run(world, stats, window=window)
        join = result["verdicts"]["JoinCoverage"]
        assert join["basis"] == "window"
        assert -2.5 < join["z"] < -1.9  # below the single-batch warn and trip levels
        sequence = windows.sequence(window, "JoinCoverage/src", VERSION, "today") + [join["z"]]
        cusum = page_cusum_low(sequence)
        assert join["cusum"] == pytest.approx(cusum)
        level = (
            TRIP if cusum >= DEFAULTS.cusum_trip else WARN if cusum >= DEFAULTS.cusum_warn else OK
        )
        assert join["level"] == level, prior
        assert ("JoinCoverage" in result["trips"]) == (level == TRIP)
        levels.append(level)
    assert levels[0] == OK  # one batch at z ~ -2 is no alarm
    assert levels == sorted(levels)
    first_trip = levels.index(TRIP)
    assert 2 <= first_trip <= 6  # a lasting shift of ~2 sd trips after a few batches
    assert WARN in levels[:first_trip]


def test_the_same_values_alternating_in_sign_do_not_accumulate(
    world, healthy_window, moderately_low
):
    window = with_prior_z(healthy_window, [-2.0, 2.0] * 4)
    stats = batch_stats(world[2], seed=300, matched=moderately_low)
    join = run(world, stats, window=window)["verdicts"]["JoinCoverage"]
    assert -2.5 < join["z"] < -1.9
    assert join["cusum"] == pytest.approx(-join["z"] - DEFAULTS.cusum_k)
    assert join["cusum"] < DEFAULTS.cusum_warn
    assert join["level"] == OK


def test_only_the_harmful_side_accumulates(world, healthy_window, moderately_low):
    # High coverage is no harm: a run of high z values leaves the low-side sum at zero
    window = with_prior_z(healthy_window, [3.0] * 8)
    stats = batch_stats(world[2], seed=300, matched=moderately_low)
    join = run(world, stats, window=window)["verdicts"]["JoinCoverage"]
    assert join["cusum"] == pytest.approx(-join["z"] - DEFAULTS.cusum_k)
    assert join["level"] == OK


def test_cusum_settings_are_read_from_the_config(world, healthy_window, moderately_low):
    window = with_prior_z(healthy_window, [-2.0] * 3)
    stats = batch_stats(world[2], seed=300, matched=moderately_low)
    lenient = parse_settings({"limits": {"cusum_k": 2, "cusum_warn": 50, "cusum_trip": 100}})
    join = run(world, stats, window=window, settings=lenient)["verdicts"]["JoinCoverage"]
    sequence = windows.sequence(window, "JoinCoverage/src", VERSION, "today") + [join["z"]]
    assert join["cusum"] == pytest.approx(page_cusum_low(sequence, k=2.0))
    assert join["level"] == OK


def test_the_sequence_is_kept_per_model_version(world, healthy_window, moderately_low):
    window = with_prior_z(healthy_window, [-2.0] * 6)
    assert len(windows.sequence(window, "JoinCoverage/src", "v2", "today")) == 0
    stats = batch_stats(world[2], seed=300, matched=moderately_low)
    profile, limits, layout = world
    v2 = Version("v2", layout, limits, profile)
    result = judge(v2, stats, None, window, parse_settings({}), "today")
    join = result["verdicts"]["JoinCoverage"]
    assert join["basis"] == "window"  # coverage is about the data: learnt across versions
    assert join["level"] == OK  # ...but v1's run of low values is not v2's


@pytest.mark.parametrize("expected_rows", [None, 2000])
def test_an_explicit_volume_floor_trips(world, expected_rows):
    monitoring = {"rules": {"Volume": {"trip_below": 1000}}}
    if expected_rows:
        monitoring["expected_batch_rows"] = expected_rows
    stats = batch_stats(world[2], seed=1, matched=COVERAGE, rows=800)
    result = run(world, stats, settings=parse_settings(monitoring))
    assert result["verdicts"]["Volume"]["level"] == TRIP
    assert "Volume" in result["trips"]
