"""Fit the plug-in on a training set and describe the result: the time-based split, the fit,
the holdout metrics, the class-prior baseline and the reference profile monitoring compares
batches with. Training registers and promotes what this returns; the detection benchmark
uses the same steps so it measures the model the platform would deploy."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlcycle.config import ModelConfig
from mlcycle.datasets import feature_frame
from mlcycle.evaluation import prior_baseline, score
from mlcycle.plugin import Plugin, Predictions
from mlcycle.training_window import Split, scheduled_split


@dataclass
class Fitted:
    model: object
    train_part: pd.DataFrame
    holdout: pd.DataFrame
    holdout_x: pd.DataFrame
    predictions: Predictions  # on the holdout
    metrics: dict
    baseline: dict
    profile: dict
    limits: dict


def fit_and_profile(
    cfg: ModelConfig,
    plugin: Plugin,
    frame: pd.DataFrame,
    coverage: dict[str, float],
    split: Split | None = None,
    timing_edges: list[float] | None = None,
    model: object | None = None,
) -> Fitted:
    """``coverage``: the training join's coverage per attribute source (its normal value).
    ``split``: the scheduled time-based split of ``frame`` unless given (a recovery's).
    ``timing_edges``: the label-timing bins to keep (the champion's), measured when None.
    ``model``: already fitted on the split's rows (a recovery chose it among several fits)."""
    # scipy: only when training
    from mlcycle.monitoring.profile import build_reference_profile
    from mlcycle.monitoring.registration import holdout_limits

    split = split or scheduled_split(frame, cfg.time_column, cfg.holdout_fraction)
    train_part, holdout, fitted = split.train_part, split.holdout, split.fitted
    train_x, holdout_x = feature_frame(train_part, cfg), feature_frame(holdout, cfg)
    if model is None:
        model = plugin.train(feature_frame(fitted, cfg), fitted[cfg.target], cfg.params)
    predictions = plugin.predict(model, holdout_x)
    metrics = score(holdout[cfg.target], predictions, cfg.classes)
    # The prior the model was fitted to: after a change in class shares the weighted one is
    # the honest floor.
    baseline = prior_baseline(fitted[cfg.target], holdout[cfg.target], cfg.classes)
    kinds = {name: col.kind for name, col in cfg.feature_columns.items()}
    profile = build_reference_profile(
        holdout_x,
        kinds,
        predictions.proba,
        labels=holdout[cfg.target],
        holdout_metrics=metrics,
        predicted=predictions.labels,
        reference_features=pd.concat([train_x, holdout_x], ignore_index=True),
        model_inputs=plugin.model_inputs(model, pd.concat([train_x, holdout_x], ignore_index=True)),
    )
    limits = holdout_limits(
        profile,
        holdout_x,
        plugin.model_inputs(model, holdout_x),
        predictions.labels,
        predictions.proba,
        holdout[cfg.target],
        cfg.positive_class,
        coverage,
        cfg.rules.timing_column,
        timing_edges,
    )
    return Fitted(
        model, train_part, holdout, holdout_x, predictions, metrics, baseline, profile, limits
    )
