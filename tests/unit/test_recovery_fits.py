"""The recovery's fits meet on one holdout: the best on its fresh rows is offered."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mlcycle.config import load_config
from mlcycle.errors import DataContractError
from mlcycle.plugin import Predictions
from mlcycle.prior_shift import PriorShifted
from mlcycle.recovery_fits import choose_fit, pick
from mlcycle.training_window import recovery_splits
from tests.conftest import MODEL_DIR

LOADED = load_config(MODEL_DIR / "model_config.yml")
# The small worlds below have 100 newest labels (half the newest batch): judged as enough,
# except where a test says so.
CFG = dataclasses.replace(
    LOADED, promotion=dataclasses.replace(LOADED.promotion, fresh_min_rows=100)
)


class Shares:
    """A plug-in whose model is the class shares it was fitted on: its log loss on a batch is
    lowest when the batch has the same shares."""

    classes = CFG.classes

    def train(self, features, target, params):
        return target.value_counts(normalize=True).reindex(self.classes, fill_value=1e-6)

    def predict(self, model, features):
        proba = pd.DataFrame([model.to_numpy()] * len(features), columns=self.classes)
        return Predictions(np.full(len(features), model.idxmax(), dtype=object), proba)


def _world(newest_shares: list[float], days: int = 10, per_day: int = 200) -> tuple:
    """Days of bookings with one class mix; the newest day (rank 0) with `newest_shares`."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2026-01-01", periods=days).repeat(per_day)
    shares = [[0.5, 0.2, 0.3]] * (days - 1) + [newest_shares]
    status = np.concatenate([rng.choice(CFG.classes, per_day, p=p) for p in shares])
    frame = pd.DataFrame({name: 0 for name in CFG.feature_columns}, index=range(len(dates)))
    frame["date"], frame[CFG.target] = dates, status
    day = np.arange(days).repeat(per_day)
    return frame, np.where(day >= days - 3, days - 1 - day, -1)  # 3 labelled batches


# The champion before the change: the history's class mix.
CHAMPION = pd.Series([0.5, 0.2, 0.3], index=CFG.classes)


def _choose(frame, recency, cfg=CFG, champion=CHAMPION):
    splits = recovery_splits(frame, recency, "date", 0.2, 3, 3)
    fresh = np.ones(len(next(iter(splits.values())).holdout), dtype=bool)
    return choose_fit(cfg, Shares(), splits, fresh, champion)


def test_a_changed_class_mix_is_learned_from_the_newest_batch_alone():
    frame, recency = _world([0.1, 0.8, 0.1])
    chosen = _choose(frame, recency)
    assert chosen.name == "newest", chosen.scores
    scores = chosen.scores
    assert scores["metric"] == "log_loss" and scores["rows"] == 100
    assert (
        scores["newest"]["log_loss"] < scores["recent"]["log_loss"] < scores["weighted"]["log_loss"]
    )
    assert scores["newest"]["fitted_rows"] == 100 and len(chosen.split.fitted) == 100
    # The champion re-weighted on the newest batch comes close: the mix is all that changed.
    priors = scores["priors"]
    assert priors["fitted_rows"] == 100 and priors["offsets"]["booked"] == 0.0
    assert priors["offsets"]["cancelled"] > 1.5 and priors["offsets"]["fulfilled"] < 0
    assert scores["newest"]["log_loss"] < priors["log_loss"] < scores["recent"]["log_loss"]
    assert _choose(frame, recency, champion=None).scores.keys() == scores.keys() - {"priors"}


def test_an_unchanged_world_keeps_the_weighted_history_fit():
    frame, recency = _world([0.5, 0.2, 0.3])
    chosen = _choose(frame, recency)
    assert chosen.name == "weighted", chosen.scores
    assert chosen.scores["weighted"]["fitted_rows"] == 1400 + 3 * 500
    assert "log_loss" in chosen.scores["priors"]  # offered, and not better by the margin


def test_a_fit_too_small_or_missing_a_class_is_not_offered():
    frame, recency = _world([0.1, 0.8, 0.1])
    small = dataclasses.replace(CFG, min_training_rows=101)
    chosen = _choose(frame, recency, small)
    assert chosen.name == "recent"
    assert "fewer than training.min_rows 101" in chosen.scores["newest"]["not_offered"]

    frame[CFG.target] = np.where(recency == 0, "cancelled", frame[CFG.target])
    chosen = _choose(frame, recency)
    assert "no rows of class(es) ['booked', 'fulfilled']" in chosen.scores["newest"]["not_offered"]
    assert chosen.name != "newest"


def test_a_champion_that_cannot_score_the_rows_is_not_re_weighted():
    frame, recency = _world([0.1, 0.8, 0.1])
    chosen = _choose(frame, recency, champion=object())  # a model the plug-in cannot use
    assert chosen.name == "newest"
    assert chosen.scores["priors"]["not_offered"].startswith("the champion cannot score these rows")


class LabelsOnly(Shares):
    """A plug-in that predicts labels and no probabilities."""

    def predict(self, model, features):
        return Predictions(super().predict(model, features).labels, None)


def test_a_labels_only_plugin_has_no_probabilities_to_re_weight():
    frame, recency = _world([0.1, 0.8, 0.1])
    splits = recovery_splits(frame, recency, "date", 0.2, 3, 3)
    fresh = np.ones(len(splits["weighted"].holdout), dtype=bool)
    chosen = choose_fit(CFG, LabelsOnly(), splits, fresh, CHAMPION)
    assert chosen.scores["metric"] == "macro_f1" and chosen.name != "priors"
    assert chosen.scores["priors"]["not_offered"] == (
        "the champion gives labels only, no probabilities"
    )


def test_no_fit_to_offer_is_a_contract_error():
    frame, recency = _world([0.1, 0.8, 0.1])
    huge = dataclasses.replace(CFG, min_training_rows=10**6)
    with pytest.raises(DataContractError, match="a recovery fit can be fitted"):
        _choose(frame, recency, huge)


@pytest.mark.parametrize(
    ("values", "metric", "picked"),
    [
        ({"weighted": 0.70, "recent": 0.698, "newest": 0.699}, "log_loss", "weighted"),
        ({"weighted": 0.70, "recent": 0.69, "newest": 0.60}, "log_loss", "newest"),
        ({"weighted": 0.40, "recent": 0.404, "newest": 0.50}, "macro_f1", "newest"),
        ({"weighted": 0.40, "recent": 0.404}, "macro_f1", "weighted"),
    ],
)
def test_a_fit_on_fewer_batches_must_beat_the_history_fit_by_the_margin(values, metric, picked):
    assert pick(values, metric, 0.005) == picked


class Fussy(Shares):
    """A plug-in that cannot fit fewer than 600 rows."""

    def train(self, features, target, params):
        if len(target) < 600:
            raise ValueError(f"need 600 rows, got {len(target)}")
        return super().train(features, target, params)


def test_a_fit_the_plugin_cannot_make_is_not_offered_but_the_history_fit_must_be():
    frame, recency = _world([0.1, 0.8, 0.1])
    splits = recovery_splits(frame, recency, "date", 0.2, 3, 3)
    fresh = np.ones(len(splits["weighted"].holdout), dtype=bool)
    chosen = choose_fit(CFG, Fussy(), splits, fresh, CHAMPION)
    assert chosen.scores["recent"]["not_offered"] == "failed: need 600 rows, got 500"
    assert chosen.scores["newest"]["not_offered"] == "failed: need 600 rows, got 100"
    # Re-weighting the champion needs no fit of the plug-in's on the newest batch.
    assert chosen.name == "priors" and isinstance(chosen.model, PriorShifted)
    assert chosen.model.model is CHAMPION and chosen.split is splits["newest"]

    frame, recency = _world([0.1, 0.8, 0.1], days=3)  # 600 rows: the history fit is too small
    splits = recovery_splits(frame, recency, "date", 0.2, 1, 3)
    fresh = np.ones(len(splits["weighted"].holdout), dtype=bool)
    with pytest.raises(ValueError, match="need 600 rows, got 500"):
        choose_fit(CFG, Fussy(), splits, fresh)


def test_too_few_newest_labels_leave_the_history_fit_alone():
    frame, recency = _world([0.1, 0.8, 0.1])
    strict = dataclasses.replace(
        CFG, promotion=dataclasses.replace(CFG.promotion, fresh_min_rows=101)
    )
    chosen = _choose(frame, recency, strict)
    assert chosen.name == "weighted"
    for fit in ("newest", "priors"):
        assert chosen.scores[fit]["not_offered"] == (
            "the newest labels hold 100 rows, fewer than promotion.fresh_min_rows 101"
        )
