"""The gate before publication: a batch whose label-free statistics reach trip level is never
published.

Infer counts every scored chunk into mergeable statistics and, before writing `_SUCCESS`,
judges them with the monitor's own rules (``monitoring.judge``) against the limits signed with
the model version and the monitor's window of recent batches. On a trip the multipart upload
is aborted, infer asks the breaker function to open (synchronously: the state is the
breaker's to change), then holds the batch with the verdicts as its reason. A warning
publishes, and the manifest says so. What only labels can show stays with the monitor and
its alarms.
"""

from __future__ import annotations

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from mlcycle import storage
from mlcycle.batches import change_held_note
from mlcycle.config import ModelConfig
from mlcycle.errors import MLCycleError
from mlcycle.invoke import InvokeFailed, invoke_sync
from mlcycle.logs import get_logger, log
from mlcycle.monitoring.batchstats import BatchStats, Layout, input_sample
from mlcycle.monitoring.judge import Version, judge
from mlcycle.moves import hold
from mlcycle.objectstore import ObjectStore
from mlcycle.plugin import Plugin, Predictions
from mlcycle.storage import Buckets
from mlcycle.window_store import read_window

logger = get_logger("mlcycle.publication_gate")


def version_of(cfg: ModelConfig, metadata: dict, name: str) -> Version | None:
    """The version as the rules judge with it; None for one registered without limits."""
    limits = metadata.get("limits")
    if not limits:
        return None
    profile = metadata["reference_profile"]
    layout = Layout.of(profile, limits, [s.name for s in cfg.attribute_sources], cfg.positive_class)
    return Version(name, layout, limits, profile)


def summary(result: dict) -> dict:
    """The verdicts as the manifest and the hold note keep them."""
    keep = ("level", "value", "centre", "sd", "z", "cusum", "basis", "reason", "part", "columns")
    return {
        "level": result["level"],
        "trips": result["trips"],
        "warnings": result["warnings"],
        "likely_cause": result["likely_cause"],
        "verdicts": {
            rule: {k: v for k, v in verdict.items() if k in keep and v is not None}
            for rule, verdict in result["verdicts"].items()
        },
    }


class Screen:
    """The statistics of one batch as it is scored, and the verdict before publication."""

    def __init__(
        self, cfg: ModelConfig, plugin: Plugin, model: object, version: Version, window: dict
    ):
        self.cfg, self.plugin, self.model = cfg, plugin, model
        self.version, self.layout, self.window = version, version.layout, window
        self.stats = BatchStats.empty(version.layout)

    @classmethod
    def open(
        cls,
        cfg: ModelConfig,
        plugin: Plugin,
        model: object,
        metadata: dict,
        store: ObjectStore,
        buckets: Buckets,
        version: str,
    ) -> Screen | None:
        judged = version_of(cfg, metadata, version)
        if judged is None:
            return None
        window = read_window(store, buckets.monitoring, cfg.name)
        return cls(cfg, plugin, model, judged, window)

    def add(self, features: pd.DataFrame, predictions: Predictions, coverage: dict) -> None:
        matched = {name: int(round(share * len(features))) for name, share in coverage.items()}
        inputs = None
        if self.layout.inputs and self.cfg.rules.model_inputs_sample > 0:
            sample = input_sample(len(features), self.cfg.rules.model_inputs_sample)
            inputs = self.plugin.model_inputs(self.model, features.iloc[sample])
        self.stats.add(
            self.layout, features, predictions.labels, predictions.proba, matched, inputs
        )

    def verdict(self, batch_id: str, violations: int) -> dict:
        self.stats.violations = violations
        return judge(self.version, self.stats, None, self.window, self.cfg.rules, batch_id)


def tripped(result: dict) -> bool:
    """Whether a batch result is the gate's hold (its trip has opened the breaker)."""
    return result.get("status") == "held" and bool((result.get("gate") or {}).get("trips"))


class Withheld(MLCycleError):
    """The gate tripped: the batch's output must not be published."""

    def __init__(self, result: dict):
        super().__init__(f"gate tripped on {', '.join(result['trips'])}")
        self.result = result


def withhold(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    prefix: str,
    version: str,
    result: dict,
) -> dict:
    """Hold the batch with the verdicts, then tell the breaker (it decides what the trip means).

    The hold comes first: a breaker that cannot be reached (throttled, failing) must not send
    the batch round its retries into quarantine. It stays held, its result says the breaker
    was not told, and the next batch that trips tells it again. A batch scored from held/ (on
    the close, by the rescan) gets these verdicts in its note: they say why it is held now,
    and an integrity trip among them keeps it out of training, off the publish fallback and
    out of the next rescan."""
    verdicts = summary(result)
    reasons = "; ".join(f"{r}: {verdicts['verdicts'][r].get('reason')}" for r in result["trips"])
    why = f"gate tripped before publication: {reasons}"
    details = {"gate": verdicts, "model_version": version}
    if prefix == storage.incoming_prefix(batch_id):
        hold(store, buckets, batch_id, why, details)
    elif prefix == storage.held_prefix(batch_id):
        change_held_note(store, buckets, batch_id, lambda note: {**note, "reason": why, **details})
    log(logger, "batch withheld", level=30, batch_id=batch_id, trips=result["trips"])
    held = {"status": "held", "batch_id": batch_id, "reason": why, "gate": verdicts}
    try:
        answer = invoke_sync(
            "BREAKER_FUNCTION_NAME",
            {
                "action": "gate_trip",
                "batch_id": batch_id,
                "model_version": version,
                "rules": result["trips"],
                "reason": reasons[:1000],
            },
        )
    except (InvokeFailed, BotoCoreError, ClientError) as exc:
        log(logger, "breaker not told of a gate trip", level=40, batch_id=batch_id, error=str(exc))
        return {**held, "breaker": None, "breaker_error": str(exc)[:500]}
    return {**held, "breaker": answer.get("state")}
