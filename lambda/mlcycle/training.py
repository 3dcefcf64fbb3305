"""Train -> evaluate on a time-based holdout -> register -> promote through the gate.

A new version is always stored (its metrics are evidence), but it becomes champion
only if it clears the class-prior floor and beats the champion on the same fresh
holdout by the configured margin (`mlcycle.candidates`). The breaker's recovery retrain
trains on a window that weights the newest labels (`mlcycle.training_window`) and may roll
back to the previous champion instead.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.breaker import gate
from mlcycle.candidates import Arena, recovery_gate, scheduled_gate
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError, MLCycleError, rejected
from mlcycle.evaluation import score
from mlcycle.events import SignUnsigned, TrainEvent
from mlcycle.fitting import Fitted, fit_and_profile
from mlcycle.history_window import FULL_HISTORY
from mlcycle.logs import get_logger, log
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin, Predictions
from mlcycle.recovery_fits import RecoveryFit, choose_fit
from mlcycle.registry import Aliases, Decision, ModelRegistry
from mlcycle.storage import Buckets
from mlcycle.training_data import TrainingSet, load_training_set
from mlcycle.training_window import recovery_splits

logger = get_logger("mlcycle.training")


def code_version(plugin: Plugin, config_path: Path | None) -> str:
    """Fingerprint of the plug-in files and the config file that was loaded: metadata says
    exactly which code made a version."""
    digest = hashlib.sha256()
    for path in (plugin.train_file, plugin.infer_file, config_path):
        if path and Path(path).exists():
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def _check_target(target: pd.Series, classes: list[str], min_rows: int) -> None:
    if len(target) < min_rows:
        raise DataContractError(
            "training set", target.name, f"at least {min_rows} rows", f"only {len(target)} rows"
        )
    absent = [c for c in classes if c not in set(target.unique())]
    if absent:
        raise DataContractError(
            "training set", target.name, "every class present", f"no rows of class(es) {absent}"
        )


def _holdout_fingerprint(holdout: pd.DataFrame, cfg: ModelConfig) -> str:
    digest = hashlib.sha256()
    digest.update(
        pd.util.hash_pandas_object(holdout[[cfg.join_key, cfg.target]], index=False)
        .to_numpy()
        .tobytes()
    )
    return digest.hexdigest()


def fresh_rows(cfg: ModelConfig, holdout: pd.DataFrame) -> np.ndarray:
    """The newest `promotion.fresh_days` of the holdout, where challenger and champion meet.

    The holdout is a share of all the data, so after a change in behaviour it mixes old and
    new days, and a model of the old world can win on it; the newest days are the world
    the champion now serves. Too few rows there: the whole holdout.
    """
    everything = np.ones(len(holdout), dtype=bool)
    if not cfg.promotion.fresh_days or not len(holdout):
        return everything
    times = holdout[cfg.time_column]
    newest = (times >= times.max() - pd.Timedelta(days=cfg.promotion.fresh_days)).to_numpy()
    return newest if newest.sum() >= cfg.promotion.fresh_min_rows else everything


def _recovery_fit(
    cfg: ModelConfig,
    plugin: Plugin,
    data: TrainingSet,
    recent_batches: int | None,
    registry: ModelRegistry,
) -> RecoveryFit | None:
    """A recovery's chosen fit when a labelled batch is in its window; else None (the
    scheduled split)."""
    if not recent_batches or not (data.recency >= 0).any():
        return None
    splits = recovery_splits(
        data.frame,
        data.recency,
        cfg.time_column,
        cfg.holdout_fraction,
        cfg.recent_weight,
        recent_batches,
    )
    holdout = next(iter(splits.values())).holdout
    return choose_fit(cfg, plugin, splits, fresh_rows(cfg, holdout), _champion_model(registry))


def _champion_model(registry: ModelRegistry) -> object | None:
    """The champion's model, for the recovery to re-weight; None without one that verifies."""
    champion = registry.champion()
    if champion is None:
        return None
    try:
        return registry.load(champion)
    except MLCycleError:
        return None  # an unverifiable champion vouches for nothing


def _arena(cfg: ModelConfig, registry: ModelRegistry, plugin: Plugin, fitted: Fitted) -> Arena:
    """Candidates meet on the holdout's fresh rows; the challenger's metrics there."""
    holdout, predictions = fitted.holdout, fitted.predictions
    fresh = fresh_rows(cfg, holdout)
    on_fresh = Predictions(
        predictions.labels[fresh],
        None if predictions.proba is None else predictions.proba[fresh].reset_index(drop=True),
    )
    target = holdout[cfg.target][fresh].reset_index(drop=True)
    return Arena(
        cfg,
        registry,
        plugin,
        {**fitted.metrics, **score(target, on_fresh, cfg.classes)},
        fitted.baseline,
        fitted.holdout_x[fresh].reset_index(drop=True),
        target,
    )


def _champion_timing_edges(registry: ModelRegistry) -> list[float] | None:
    """The champion's label-timing bins: its successor keeps them, so that a new version's
    early rule can judge with the partial-label history of the versions before it (a recovery
    model on probation has no history of its own)."""
    champion = registry.champion()
    if champion is None:
        return None
    try:
        return registry.metadata(champion).get("limits", {}).get("timing_edges")
    except MLCycleError:
        return None  # an unverifiable champion vouches for nothing: measure afresh


def run_training(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    config_path: Path | None = None,
    since: str | None = None,
    recent_batches: int | None = None,
    force: bool = False,
    reason: str = "",
    actor: str = "training",
    recovery: bool = False,
    veto: Callable[[TrainingSet], str | None] | None = None,
    full_history: bool = False,
) -> dict:
    """``veto(training set)``, asked at the moment of promotion, may refuse it with a reason
    (a forced run is never vetoed). In ``recovery`` ``recent_batches`` is the weighted window
    (the config's `breaker.retrain_recent_batches` when not given) inside the history window.
    Every run reads the configured history window (`training.window_days` / `window_rows`)
    unless ``full_history``."""
    started = time.monotonic()
    if recovery:
        recent_batches = recent_batches or cfg.retrain_recent_batches
    window = FULL_HISTORY if full_history else cfg.history_window
    data = load_training_set(store, buckets, cfg, since, recent_batches, recovery, window)
    _check_target(data.frame[cfg.target], cfg.classes, cfg.min_training_rows)
    registry = ModelRegistry(store, buckets.models, cfg.name)
    chosen = _recovery_fit(cfg, plugin, data, recent_batches, registry) if recovery else None
    split = chosen.split if chosen else None
    fitted = fit_and_profile(
        cfg,
        plugin,
        data.frame,
        data.coverage,
        split,
        _champion_timing_edges(registry),
        chosen.model if chosen else None,
    )
    train_part, holdout = fitted.train_part, fitted.holdout
    metrics, baseline = fitted.metrics, fitted.baseline
    version, _ = registry.register(
        fitted.model,
        {
            "metrics": metrics,
            "baseline": baseline,
            "classes": cfg.classes,
            "target": cfg.target,
            "feature_schema": {name: col.type for name, col in cfg.feature_columns.items()},
            "holdout": {
                "rows": len(holdout),
                "fingerprint": _holdout_fingerprint(holdout, cfg),
                "from": str(holdout[cfg.time_column].min()),
                "to": str(holdout[cfg.time_column].max()),
            },
            "training": {
                "rows": len(train_part),
                "parts": data.parts,
                "join_coverage": data.coverage,
                "since": since,
                "recent_batches": recent_batches,
                "recovery": recovery,
                "window": data.window,
                "recent_weight": cfg.recent_weight if split else 1,
                "fit": chosen.name if chosen else "scheduled",
                "fits": chosen.scores if chosen else None,
                "fitted_rows": len(split.fit_rows) if split else len(train_part),
                "excluded": data.excluded,
                "notes": data.notes,
            },
            "reference_profile": fitted.profile,
            "limits": fitted.limits,
            "code_version": code_version(plugin, config_path),
            "confidence_metrics": fitted.predictions.proba is not None,
        },
    )
    decide: Callable[[Aliases], Decision]
    if force:

        def forced(_aliases: Aliases) -> Decision:
            return Decision(True, f"forced by {actor}: {reason or 'no reason given'}")

        decide = forced
    else:
        arena = _arena(cfg, registry, plugin, fitted)
        decide = recovery_gate(arena, version) if recovery else scheduled_gate(arena)
        if veto is not None:
            decide = _vetoed(decide, partial(veto, data))
    decision = registry.settle(version, decide, actor=actor)
    summary: dict[str, Any] = {
        "status": "rolled_back"
        if decision.rollback
        else "promoted"
        if decision.promote
        else "stored_not_promoted",
        "model": cfg.name,
        "version": version,
        "champion": decision.champion,
        "reason": decision.reason,
        "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1", "log_loss") if k in metrics},
        "baseline": {k: baseline[k] for k in ("accuracy", "macro_f1", "log_loss")},
        "rows": {"train": len(train_part), "holdout": len(holdout)},
        "join_coverage": data.coverage,
        "labelled_batches": len(data.parts) - 1,
        "window": data.window,
        "fit": chosen.name if chosen else "scheduled",
        "excluded_batches": [e["batch_id"] for e in data.excluded],
        "seconds": round(time.monotonic() - started, 2),
    }
    if decision.scores:
        summary["candidates"] = decision.scores
    log(logger, "training finished", **summary)
    return summary


def _vetoed(
    decide: Callable[[Aliases], Decision], veto: Callable[[], str | None]
) -> Callable[[Aliases], Decision]:
    """A promotion the veto refuses keeps the champion; the scores stay in the result (a
    recovery that keeps the champion puts it on probation by them: `gate.champion_kept`)."""

    def checked(aliases: Aliases) -> Decision:
        decision = decide(aliases)
        reason = veto() if decision.promote else None
        return Decision(False, reason, scores=decision.scores) if reason else decision

    return checked


def handle_request(
    cfg: ModelConfig,
    plugin: Plugin,
    store: ObjectStore,
    buckets: Buckets,
    request: TrainEvent,
    config_path: Path | None = None,
) -> dict:
    """The train function's one job.

    Run the request as the breaker's state allows, report the result.
    """
    if isinstance(request, SignUnsigned):
        try:
            signed = ModelRegistry(store, buckets.models, cfg.name).sign_unsigned()
        except MLCycleError as exc:
            return rejected(exc)
        log(logger, "unsigned versions signed", versions=signed, actor=request.actor)
        return {"status": "signed", "versions": signed}
    plan = gate.training_plan(request, cfg, store, buckets)
    if isinstance(plan, dict):
        return plan
    try:
        summary = run_training(
            cfg,
            plugin,
            store,
            buckets,
            config_path=config_path,
            since=plan.since,
            recent_batches=plan.recent_batches,
            force=plan.force,
            reason=plan.reason,
            actor=plan.actor,
            recovery=plan.recovery,
            veto=gate.promotion_veto(cfg, store, buckets),
            full_history=plan.window == "full",
        )
    except MLCycleError as exc:
        log(logger, "training refused; champion untouched", level=40, error=str(exc))
        return rejected(exc)
    if summary["status"] in ("promoted", "rolled_back"):
        # A rollback puts a different model in charge just as a promotion does: the breaker
        # starts its probation the same way.
        gate.after_promotion(summary["champion"], store, buckets)
    elif plan.recovery:
        gate.champion_kept(summary, store, buckets)
    return summary
