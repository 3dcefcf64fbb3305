"""Monitor stage: report on scored batches, publish their metrics, send probation verdicts.

Runs when a batch is published (the `_SUCCESS` manifest), when its labels arrive, and on
the monitoring schedule for anything missed. The report is rewritten each time, so the
latest one always includes whatever labels exist by then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from mlcycle import events, revisions, storage
from mlcycle.attributes import join, read_attributes
from mlcycle.batches import held_batch
from mlcycle.breaker.effects import report_unknown_state
from mlcycle.breaker.state import UNKNOWN, read_state
from mlcycle.clock import now
from mlcycle.cloudwatch import metric_data, namespace, put_metrics, verdict_data
from mlcycle.config import ModelConfig
from mlcycle.datasets import feature_frame
from mlcycle.first_labels import judge_labels, waiting_rows
from mlcycle.invoke import invoke_async
from mlcycle.labels import read_labels
from mlcycle.logs import bound, get_logger, log
from mlcycle.monitor_sample import in_sample, read_csv_object, sample_share
from mlcycle.monitoring.columns import ratio
from mlcycle.monitoring.report import build_report, headline_metrics
from mlcycle.monitoring.rules import label_rules
from mlcycle.monitoring.thresholds import breaches, parse_alarms
from mlcycle.objectstore import ObjectStore, PreconditionFailed
from mlcycle.publication_gate import summary
from mlcycle.registry import ModelRegistry
from mlcycle.scoring import published_manifest
from mlcycle.sources import open_source
from mlcycle.storage import Buckets
from mlcycle.verdicts import judge_published

logger = get_logger("mlcycle.monitor")


def _inputs(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, prefix: str, share: float | None
) -> pd.DataFrame:
    """The input source's rows (those of the sample when ``share`` is given)."""
    key = storage.source_key(prefix, cfg.input_spec.name)
    reader = open_source(store, buckets.data, key, cfg.input_spec, cfg)
    if share is None:
        return reader.read_all()
    key_of = cfg.join_key
    return pd.concat(
        [c.frame[in_sample(c.frame[key_of], share, c.hashes(key_of))] for c in reader],
        ignore_index=True,
    )


def _features(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, prefix: str, share: float | None
) -> pd.DataFrame:
    attributes, _ = read_attributes(store, buckets.data, prefix, cfg)
    try:
        return join(_inputs(store, buckets, cfg, prefix, share), attributes, cfg.join_key)[0]
    finally:
        for attr in attributes:
            attr.close()


def _predictions(
    store: ObjectStore, buckets: Buckets, cfg: ModelConfig, manifest: dict, share: float | None
) -> pd.DataFrame:
    """A sharded batch's parts, in order, are one batch."""
    types = {cfg.join_key: str}
    parts = [
        read_csv_object(
            store, buckets.predictions, key, share, cfg.join_key, cfg.chunk_rows, dtype=types
        )
        for key in storage.prediction_keys(manifest)
    ]
    return pd.concat(parts, ignore_index=True)


def _counted_whole(report: dict, rows: int, share: float) -> None:
    """A sampled report's counts are the batch's; its rates and tests are the sample's."""
    business = report["business"]
    sampled = business["rows"]
    report["quality"]["row_count"] = business["rows"] = rows
    business["volume_ratio"] = ratio(rows, business["expected_rows"])
    report["sample"] = {"rows": sampled, "of": rows, "share": round(share, 6), "by": "key hash"}


def monitor_batch(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    cloudwatch: Any = None,
    at: dt.datetime | None = None,
) -> dict:
    """Report on a batch and publish its metrics; returns a summary with the threshold breaches."""
    manifest = published_manifest(store, buckets, batch_id, probation=True)
    if manifest is None:
        return _held_for_labels(cfg, store, buckets, batch_id)
    version = manifest["model_version"]
    metadata = ModelRegistry(store, buckets.models, cfg.name).metadata(version)
    profile = metadata["reference_profile"]
    reader, prefix = revisions.locate(store, buckets, cfg, manifest)
    share = sample_share(int(manifest.get("rows") or 0), cfg.monitor_sample_rows)
    features = _features(reader, buckets, cfg, prefix, share)
    predictions = _predictions(store, buckets, cfg, manifest, share)
    proba_columns = [f"p_{c}" for c in cfg.classes]
    proba = None
    if manifest.get("confidence_metrics", True):
        proba = predictions[proba_columns].set_axis(cfg.classes, axis=1)
    labels = read_labels(store, buckets.data, cfg, batch_id, predictions[cfg.join_key], share)
    predicted = predictions[f"predicted_{cfg.target}"].to_numpy()
    rules = judge_published(
        cfg, store, buckets, manifest, metadata, features, predicted, proba, labels
    )
    report = build_report(
        batch_id,
        cfg.name,
        version,
        feature_frame(features, cfg).reset_index(drop=True),
        {n: c.kind for n, c in cfg.feature_columns.items()},
        proba,
        predicted,
        None if labels is None else labels.values.to_numpy(),
        profile,
        manifest.get("join_coverage_min"),
        int(sum(manifest.get("schema_violations", {}).values())),
        cfg.positive_class,
        expected_rows=cfg.monitoring.get("expected_batch_rows"),
        segment_column=cfg.segment_column,
        drift=rules["drift"] if rules else None,
    )
    if share is not None:
        _counted_whole(report, int(manifest["rows"]), share)
    at = at or now()
    if rules is not None:
        _calibrated(report, rules)
    headline = headline_metrics(report)
    found = breaches(headline, parse_alarms(cfg.monitoring.get("alarms")))
    if rules is not None:
        found += [{"rule": r, "reason": rules["verdicts"][r].get("reason")} for r in rules["trips"]]
    report.update(
        monitored_at=at.isoformat(),
        probation=bool(manifest.get("probation")),
        headline=headline,
        breaches=found,
        rules=summary(rules) if rules else None,
        labels_available=labels is not None,
        labels=None
        if labels is None
        else {"complete": labels.complete, "as_of": labels.as_of, "objects": labels.keys},
    )
    store.put_json(buckets.monitoring, storage.report_key(batch_id), report)
    breaker, _ = read_state(store, buckets.monitoring)
    live = manifest["published_at"] > (breaker.get("tripped_at") or "")
    if cloudwatch is not None:
        datums = metric_data(headline, cfg.name, version, at)
        if not live:
            # Late labels for a batch scored before the breaker's last trip are evidence it
            # already acted on: they go to the per-version dimension, not to the alarms.
            datums = [d for d in datums if len(d["Dimensions"]) > 1]
        elif rules is not None:
            datums += verdict_data(rules["verdicts"], cfg.name, at)
        put_metrics(cloudwatch, namespace(cfg.name), datums)
    return {
        "status": "monitored",
        "batch_id": batch_id,
        "model_version": version,
        "probation": report["probation"],
        "live_model": live,
        "labels": labels is not None,
        # Whether a label rule judged this batch: only such a verdict confirms a candidate
        # on probation after a label-triggered trip.
        "labelled": rules is not None and bool(label_rules(rules["verdicts"])),
        "trips": rules["trips"] if rules else [],
        "warnings": rules["warnings"] if rules else [],
        "healthy": not found,
        "breaches": found,
        "metrics": {k: round(v, 4) for k, v in headline.items() if np.isfinite(v)},
    }


def _held_for_labels(cfg: ModelConfig, store: ObjectStore, buckets: Buckets, batch_id: str) -> dict:
    """An unscored batch: when it waits in held/ for its first labels, their verdict."""
    held = held_batch(store, buckets, batch_id)
    if held is None or not held.awaiting_labels:
        return {"status": "not_scored", "batch_id": batch_id}
    share = sample_share(waiting_rows(held), cfg.monitor_sample_rows)
    # The due and booking dates are the input source's: the attribute sources are not read.
    inputs = _inputs(store, buckets, cfg, storage.held_prefix(batch_id), share)
    labels = read_labels(store, buckets.data, cfg, batch_id, inputs[cfg.join_key], share)
    return judge_labels(cfg, store, buckets, held, inputs, labels)


def _calibrated(report: dict, rules: dict) -> None:
    """The report's label-free estimate becomes the calibrated one the rules judged."""
    estimated = report["performance"]["estimated"]
    estimate = rules.get("estimate")
    if estimated.get("available") and estimate is not None:
        estimated["mean_confidence"] = estimated.get("expected_accuracy")
        estimated["expected_accuracy"] = estimate["expected_accuracy"]
        estimated["standard_error"] = estimate["standard_error"]
        estimated["calibrated_on"] = rules["calibration"]
    error = rules["values"].get("EstimateError")
    if error is not None:
        report["performance"]["accuracy_gap"] = error


def batches_needing_a_report(store: ObjectStore, buckets: Buckets) -> list[str]:
    """Scored batches without a report, or whose labels arrived after the last report; and
    batches held for their first labels that have labels (a lost S3 event must not leave them
    waiting for the hold limit).

    Listings and their timestamps, and the notes of batches in held/ that have labels.
    """
    reports = storage.report_times(store, buckets.monitoring)
    labels = storage.label_update_times(store, buckets.data)
    scored = {
        b
        for prefix in (storage.PREDICTIONS, storage.PROBATION)
        for b in storage.batch_folders(store, buckets.predictions, prefix)
    }
    stale = {b for b in scored if b not in reports or (b in labels and labels[b] > reports[b])}
    held = set(storage.batch_folders(store, buckets.data, storage.HELD)) & set(labels) - scored
    waiting = {
        b for b in held if (found := held_batch(store, buckets, b)) and found.awaiting_labels
    }
    return sorted(stale | waiting)


def _batch_of(key: str) -> str | None:
    return storage.parse_success_key(key) or storage.parse_labels_key(key)


def batch_ids(event: events.MonitorEvent, store: ObjectStore, buckets: Buckets) -> list[str]:
    if isinstance(event, events.S3Notification):
        return list(dict.fromkeys(b for b in map(_batch_of, event.keys) if b))
    if isinstance(event, events.MonitorBatch):
        return [event.batch_id]
    return batches_needing_a_report(store, buckets)


class DuplicateDelivery(Exception):
    """This object version already triggered a monitor run."""


def _first_delivery(
    store: ObjectStore, buckets: Buckets, event: events.MonitorEvent, batch_id: str
) -> str | None:
    """For an S3 trigger, the run marker this delivery created (None for other triggers);
    DuplicateDelivery when a delivery of the same object version got there first (S3
    delivers at least once)."""
    if not isinstance(event, events.S3Notification):
        return None
    trigger = next(o for o in event.objects if _batch_of(o.key) == batch_id)
    marker = storage.monitor_run_key(batch_id, trigger.key, trigger.version_id, trigger.etag)
    try:
        store.put_json(buckets.monitoring, marker, {"at": now().isoformat()}, if_none_match=True)
    except PreconditionFailed:
        raise DuplicateDelivery(marker) from None
    return marker


def _report_probation(result: dict) -> None:
    invoke_async(
        "BREAKER_FUNCTION_NAME",
        {
            "action": "probation_report",
            "batch_id": result["batch_id"],
            "healthy": result["healthy"],
            "breaches": result["breaches"],
            "model_version": result["model_version"],
            "labelled": result["labelled"],
        },
    )


def handle(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    event: events.MonitorEvent,
    cloudwatch: Any,
) -> dict:
    """Monitor every batch the event names; a sweep reports a broken batch and goes on."""
    sweep = isinstance(event, events.Scheduled)
    state, _ = read_state(store, buckets.monitoring)
    if state["state"] == UNKNOWN:
        report_unknown_state(
            cfg.name, state
        )  # the schedule keeps the alarm fed while nothing arrives
    results = []
    for batch_id in batch_ids(event, store, buckets):
        with bound(batch_id=batch_id):
            try:
                marker = _first_delivery(store, buckets, event, batch_id)
            except DuplicateDelivery:
                results.append({"status": "duplicate_delivery", "batch_id": batch_id})
                continue
            try:
                result = monitor_batch(cfg, store, buckets, batch_id, cloudwatch)
            except Exception as exc:  # noqa: BLE001 - one broken batch must not hide the others
                if marker:  # let the retry of this delivery run
                    store.delete(buckets.monitoring, marker)
                if not sweep:
                    raise
                log(
                    logger,
                    "batch could not be monitored",
                    level=40,
                    error=f"{type(exc).__name__}: {exc}",
                )
                results.append(
                    {
                        "status": "error",
                        "batch_id": batch_id,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
                )
                continue
            log(logger, "batch monitored", **{k: v for k, v in result.items() if k != "batch_id"})
            if result.get("probation"):
                _report_probation(result)
            results.append(result)
    return {"monitored": len(results), "results": results}
