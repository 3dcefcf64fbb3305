"""The breaker's retrain fits several ways and offers the fit the newest labels favour.

The fits (`mlcycle.training_window.recovery_splits`) share one holdout, so their scores on its
fresh rows are comparable; the winner then meets champion and `previous` on the same rows in
the recovery gate, with the margin. A world that did not change favours the weighted history
fit (more rows); one that changed for good favours the newest batches alone, which the
history would outvote for weeks, or, when what changed is how often each outcome happens, the
champion re-weighted to the newest batch's class mix (`mlcycle.prior_shift`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlcycle.candidates import LOWER_IS_BETTER
from mlcycle.config import ModelConfig
from mlcycle.datasets import feature_frame
from mlcycle.errors import DataContractError
from mlcycle.evaluation import score
from mlcycle.plugin import Plugin, Predictions
from mlcycle.prior_shift import PriorShifted, fit_offsets, most_likely, shifted
from mlcycle.training_window import Split


@dataclass(frozen=True)
class RecoveryFit:
    name: str
    split: Split
    model: object
    # Per fit offered: its metric on the holdout's fresh rows and the rows it was fitted on.
    scores: dict


def _unfit_reason(cfg: ModelConfig, split: Split) -> str | None:
    fitted = split.fitted[cfg.target]
    if len(fitted) < cfg.min_training_rows:
        return f"{len(fitted)} rows, fewer than training.min_rows {cfg.min_training_rows}"
    absent = sorted(set(cfg.classes) - set(fitted.unique()))
    return f"no rows of class(es) {absent}" if absent else None


def pick(values: dict[str, float], metric: str, margin: float) -> str:
    """The first fit (the weighted history) unless another beats it by `margin`; then the best.

    A fit on a few batches alone can win a small holdout by chance in a world that did not
    change, and it is the worse model there; the margin is the promotion's, the difference
    the gate asks of any challenger."""
    names = list(values)
    sign = 1 if metric in LOWER_IS_BETTER else -1
    first = names[0]
    better = [n for n in names[1:] if sign * values[n] <= sign * values[first] - margin]
    return min(better, key=lambda n: sign * values[n]) if better else first


def reweighted_champion(
    cfg: ModelConfig,
    plugin: Plugin,
    splits: dict[str, Split],
    champion: object,
    features: pd.DataFrame,
    target: pd.Series,
) -> tuple[tuple[Split, object, dict] | None, dict]:
    """The champion re-weighted to the newest batch's class mix (`mlcycle.prior_shift`) with
    its metrics on the fresh holdout rows, and its scores entry; None and why when it cannot be
    offered. The champion, not the history fit: it never saw the newest rows, so the offsets
    fitted on them are not shrunk by a model that has half learnt them (a history fit with the
    newest batch counted three times learnt 0.84 of a log-odds shift of 2 this way)."""
    # With one recent batch, `newest` is not offered apart: `recent` holds the same rows.
    newest = splits.get("newest") or splits.get("recent")
    if newest is None:
        return None, {"not_offered": "no newest batch to re-weight on"}
    reason = _unfit_reason(cfg, newest)
    if reason:
        return None, {"not_offered": reason}
    base = champion.model if isinstance(champion, PriorShifted) else champion
    rows = newest.fitted
    try:
        proba = plugin.predict(base, feature_frame(rows, cfg)).proba
        holdout_proba = None if proba is None else plugin.predict(base, features).proba
    except Exception as exc:  # the plug-in's code, on a champion of an earlier config, say
        return None, {"not_offered": f"the champion cannot score these rows: {exc}"}
    if proba is None or holdout_proba is None:
        return None, {"not_offered": "the champion gives labels only, no probabilities"}
    offsets = fit_offsets(proba[cfg.classes], rows[cfg.target])
    on_holdout = shifted(holdout_proba[cfg.classes], offsets)
    metrics = score(target, Predictions(most_likely(on_holdout), on_holdout), cfg.classes)
    reweighted = PriorShifted(base, tuple(cfg.classes), tuple(float(o) for o in offsets))
    entry: dict = {
        "fitted_rows": len(rows),
        "offsets": {c: round(float(o), 4) for c, o in zip(cfg.classes, offsets, strict=True)},
    }
    return (newest, reweighted, metrics), entry


def choose_fit(
    cfg: ModelConfig,
    plugin: Plugin,
    splits: dict[str, Split],
    fresh: np.ndarray,
    champion: object | None = None,
) -> RecoveryFit:
    """Fit every split that can be fitted, re-weight the ``champion`` model (when there is one)
    on the newest batch, and pick one by its score on the fresh holdout rows."""
    holdout = next(iter(splits.values())).holdout
    target = holdout[cfg.target][fresh].reset_index(drop=True)
    features = feature_frame(holdout, cfg)[fresh].reset_index(drop=True)
    fits: dict[str, tuple[Split, object, dict]] = {}
    scores: dict[str, dict] = {}
    few = None
    if int(fresh.sum()) < cfg.promotion.fresh_min_rows:
        # Too few newest labels to tell a real change from chance: the history fit stands.
        few = (
            f"the newest labels hold {int(fresh.sum())} rows, fewer than "
            f"promotion.fresh_min_rows {cfg.promotion.fresh_min_rows}"
        )
    for name, split in splits.items():
        reason = (few if scores else None) or _unfit_reason(cfg, split)
        if reason:
            scores[name] = {"fitted_rows": len(split.fit_rows), "not_offered": reason}
            continue
        fitted = split.fitted
        try:
            model = plugin.train(feature_frame(fitted, cfg), fitted[cfg.target], cfg.params)
            metrics = score(target, plugin.predict(model, features), cfg.classes)
        except Exception as exc:  # the plug-in's code, whatever it raises
            if not scores:
                raise  # the history fit is the retrain itself: its failure is the run's
            # A plug-in may not cope with a few batches' rows: that fit is not offered.
            scores[name] = {"fitted_rows": len(split.fit_rows), "not_offered": f"failed: {exc}"}
            continue
        fits[name] = (split, model, metrics)
        scores[name] = {"fitted_rows": len(split.fit_rows)}
    if not fits:
        detail = "; ".join(f"{n}: {s['not_offered']}" for n, s in scores.items())
        raise DataContractError("training set", cfg.target, "a recovery fit can be fitted", detail)
    metric = cfg.promotion.metric
    if any(metric not in m for _, _, m in fits.values()):
        metric = "macro_f1"  # a labels-only plug-in, as the gate judges it
    if champion is not None:
        fit, scores["priors"] = (
            (None, {"not_offered": few})
            if few
            else reweighted_champion(cfg, plugin, splits, champion, features, target)
        )
        if fit is not None:
            fits["priors"] = fit
    for name, (_, _, metrics) in fits.items():
        scores[name][metric] = metrics[metric]
    values = {name: metrics[metric] for name, (_, _, metrics) in fits.items()}
    name = pick(values, metric, cfg.promotion.min_improvement)
    split, model, _ = fits[name]
    return RecoveryFit(name, split, model, {"metric": metric, "rows": len(target), **scores})
