"""Train -> evaluate on a time-based holdout -> register -> promote through the gate.

A new version is always stored (its metrics are evidence), but it becomes champion
only if it clears the class-prior floor and beats the champion on the same fresh
holdout by the configured margin.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlcycle.breaker import gate
from mlcycle.config import ModelConfig
from mlcycle.errors import DataContractError, MLCycleError, rejected
from mlcycle.evaluation import score
from mlcycle.events import SignUnsigned, TrainEvent
from mlcycle.fitting import fit_and_profile
from mlcycle.logs import get_logger, log
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin, Predictions
from mlcycle.registry import Decision, ModelRegistry
from mlcycle.storage import Buckets
from mlcycle.training_data import load_training_set

logger = get_logger("mlcycle.training")
LOWER_IS_BETTER = {"log_loss"}


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


def _gate(
    cfg: ModelConfig,
    registry: ModelRegistry,
    plugin: Plugin,
    candidate: dict,
    baseline: dict,
    holdout_x: pd.DataFrame,
    holdout_y: pd.Series,
    recovery: bool,
) -> Callable[[str | None], Decision]:
    """Return decide(champion) for ModelRegistry.promote.

    It is re-run if a concurrent promotion moved the champion.

    `candidate` is scored on `holdout_x` / `holdout_y` (the fresh rows); `baseline` is the
    floor from the whole holdout. In recovery (the breaker asked for this retrain) the
    champion is the suspect, so the challenger need only clear the floor; probation then
    judges it on live batches.
    """
    metric, margin = cfg.promotion.metric, cfg.promotion.min_improvement
    if (
        metric not in candidate
    ):  # log loss needs probabilities; a labels-only plug-in is judged on macro-F1
        metric = "macro_f1"

    def decide(champion: str | None) -> Decision:
        if cfg.promotion.require_beat_baseline:
            # Log loss and macro-F1, not accuracy: when one class dominates (cancellations
            # after a behaviour change) "always say the majority class" has high accuracy
            # and is still useless.
            worse = [
                m
                for m, better in (
                    ("log_loss", candidate.get("log_loss", 0) < baseline["log_loss"]),
                    ("macro_f1", candidate["macro_f1"] > baseline["macro_f1"]),
                )
                if not better
            ]
            if worse:
                return Decision(
                    False,
                    f"does not beat the class-prior baseline on {', '.join(worse)} "
                    f"(log loss {candidate.get('log_loss', float('nan')):.4f} vs "
                    f"{baseline['log_loss']:.4f}, macro-F1 {candidate['macro_f1']:.4f} vs "
                    f"{baseline['macro_f1']:.4f})",
                )
        if champion is None:
            return Decision(
                True,
                f"first champion ({metric} {candidate[metric]:.4f}, "
                f"baseline {baseline[metric]:.4f})",
            )
        if recovery:
            return Decision(
                True,
                f"recovery retrain replaces suspect champion {champion} "
                f"({metric} {candidate[metric]:.4f}, "
                f"baseline {baseline[metric]:.4f}); probation follows",
            )
        try:
            champ_score = score(
                holdout_y, plugin.predict(registry.load(champion), holdout_x), cfg.classes
            )[metric]
        except MLCycleError as exc:
            return Decision(
                True, f"champion {champion} cannot score the holdout ({exc}); replacing it"
            )
        where = f"on the newest {len(holdout_y)} holdout rows"
        if metric in LOWER_IS_BETTER:
            if candidate[metric] <= champ_score - margin:
                return Decision(
                    True,
                    f"{metric} {candidate[metric]:.4f} <= champion {champion} "
                    f"{champ_score:.4f} - margin {margin} {where}",
                )
            return Decision(
                False,
                f"{metric} {candidate[metric]:.4f} does not beat champion {champion} "
                f"{champ_score:.4f} - margin {margin} {where}",
            )
        if candidate[metric] >= champ_score + margin:
            return Decision(
                True,
                f"{metric} {candidate[metric]:.4f} >= champion {champion} "
                f"{champ_score:.4f} + margin {margin} {where}",
            )
        return Decision(
            False,
            f"{metric} {candidate[metric]:.4f} does not beat champion {champion} "
            f"{champ_score:.4f} + margin {margin} {where}",
        )

    return decide


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
    veto: Callable[[], str | None] | None = None,
) -> dict:
    """``veto()``, asked at the moment of promotion, may refuse it with a reason (a forced run
    is never vetoed)."""
    started = time.monotonic()
    data = load_training_set(store, buckets, cfg, since=since, recent_batches=recent_batches)
    _check_target(data.frame[cfg.target], cfg.classes, cfg.min_training_rows)
    fitted = fit_and_profile(cfg, plugin, data.frame, data.coverage)
    train_part, holdout, holdout_x = fitted.train_part, fitted.holdout, fitted.holdout_x
    predictions, metrics, baseline = fitted.predictions, fitted.metrics, fitted.baseline
    registry = ModelRegistry(store, buckets.models, cfg.name)
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
                "notes": data.notes,
            },
            "reference_profile": fitted.profile,
            "limits": fitted.limits,
            "code_version": code_version(plugin, config_path),
            "confidence_metrics": predictions.proba is not None,
        },
    )
    decide: Callable[[str | None], Decision]
    if force:

        def forced(_champion: str | None) -> Decision:
            return Decision(True, f"forced by {actor}: {reason or 'no reason given'}")

        decide = forced
    else:
        fresh = fresh_rows(cfg, holdout)
        on_fresh = Predictions(
            predictions.labels[fresh],
            None if predictions.proba is None else predictions.proba[fresh].reset_index(drop=True),
        )
        fresh_metrics = {**metrics, **score(holdout[cfg.target][fresh], on_fresh, cfg.classes)}
        decide = _gate(
            cfg,
            registry,
            plugin,
            fresh_metrics,
            baseline,
            holdout_x[fresh].reset_index(drop=True),
            holdout[cfg.target][fresh].reset_index(drop=True),
            recovery,
        )
    if veto is not None and not force:
        decide = _vetoed(decide, veto)
    decision = registry.promote(version, decide, actor=actor)
    summary: dict[str, Any] = {
        "status": "promoted" if decision.promote else "stored_not_promoted",
        "model": cfg.name,
        "version": version,
        "champion": registry.champion(),
        "reason": decision.reason,
        "metrics": {k: metrics[k] for k in ("accuracy", "macro_f1", "log_loss") if k in metrics},
        "baseline": {k: baseline[k] for k in ("accuracy", "macro_f1", "log_loss")},
        "rows": {"train": len(train_part), "holdout": len(holdout)},
        "join_coverage": data.coverage,
        "labelled_batches": len(data.parts) - 1,
        "seconds": round(time.monotonic() - started, 2),
    }
    log(logger, "training finished", **summary)
    return summary


def _vetoed(
    decide: Callable[[str | None], Decision], veto: Callable[[], str | None]
) -> Callable[[str | None], Decision]:
    def checked(champion: str | None) -> Decision:
        reason = veto()
        return Decision(False, reason) if reason else decide(champion)

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
            veto=gate.probation_veto(store, buckets),
        )
    except MLCycleError as exc:
        log(logger, "training refused; champion untouched", level=40, error=str(exc))
        return rejected(exc)
    if summary["status"] == "promoted":
        gate.after_promotion(summary["version"], store, buckets)
    return summary
