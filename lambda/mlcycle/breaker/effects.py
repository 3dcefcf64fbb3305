"""What the breaker does to the world, on AWS: rule on/off, async invokes, metrics, releases."""

from __future__ import annotations

from collections.abc import Iterator, Set

import boto3

from mlcycle import storage
from mlcycle.breaker.state import STATE_VALUE
from mlcycle.clock import now_iso
from mlcycle.cloudwatch import namespace, put_metrics
from mlcycle.events import ReleaseHeld
from mlcycle.invoke import invoke_async, setting
from mlcycle.logs import get_logger, log
from mlcycle.moves import hold
from mlcycle.objectstore import ObjectStore, PreconditionFailed
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.breaker.effects")


def _model_metric(model_name: str, metric: str, value: float) -> dict:
    return {
        "MetricName": metric,
        "Value": value,
        "Dimensions": [{"Name": "ModelName", "Value": model_name}],
    }


def report_unknown_state(model_name: str, state: dict) -> None:
    """Log it and put BreakerStateInvalid = 1: its alarm pages the operators, since only
    an operator's repair may write a state over an unknown one."""
    log(logger, "breaker state unknown: holding", level=40, problem=state.get("problem"))
    put_metrics(
        boto3.client("cloudwatch"),
        namespace(model_name),
        [_model_metric(model_name, "BreakerStateInvalid", 1.0)],
    )


def publish_from_probation(
    store: ObjectStore, buckets: Buckets, batch_id: str, marks: dict
) -> dict | None:
    """Publish a batch's probation output as it stands, ``marks`` added to its manifest; the
    published manifest, or None when there is no probation output or the batch is published.

    The predictions go first (predictions.csv, or a sharded run's parts, each copied), then
    the _SUCCESS manifest (a conditional create).
    """
    manifest, _ = store.get_json(buckets.predictions, storage.success_key(batch_id, probation=True))
    if manifest is None or store.exists(buckets.predictions, storage.success_key(batch_id)):
        return None
    parts = manifest.get("parts") or []
    if parts:
        moved: dict = {
            "parts": [storage.published_part_key(batch_id, i) for i in range(len(parts))]
        }
        copies = list(zip(parts, moved["parts"], strict=True))
    else:
        moved = {"predictions_key": storage.predictions_key(batch_id)}
        copies = [(storage.predictions_key(batch_id, probation=True), moved["predictions_key"])]
    for source, target in copies:
        store.copy(buckets.predictions, source, target)
    published = {**manifest, "probation": False, **moved, **marks}
    try:
        store.put_json(
            buckets.predictions, storage.success_key(batch_id), published, if_none_match=True
        )
    except PreconditionFailed:
        return None  # published by a concurrent writer
    return published


def unpublished_probation(
    store: ObjectStore,
    buckets: Buckets,
    skip: Set[str] = frozenset(),
    published: Set[str] | None = None,
) -> Iterator[tuple[str, dict | None, str | None]]:
    """(batch id, probation manifest, why it is unreadable) of every batch scored on
    probation and not published, `skip` aside. One listing each for the probation folders
    and the published batches (`published`: when the caller has just listed them), instead of
    a request per batch ever scored on probation; a manifest is read only for the rest."""
    if published is None:
        published = storage.published_batches(store, buckets.predictions)
    for batch_id in storage.batch_folders(store, buckets.predictions, storage.PROBATION):
        if batch_id in published or batch_id in skip:
            continue
        try:
            manifest, _ = store.get_json(
                buckets.predictions, storage.success_key(batch_id, probation=True)
            )
        except ValueError as exc:
            yield batch_id, None, str(exc)
            continue
        if manifest is None or isinstance(manifest, dict):
            yield batch_id, manifest, None
        else:
            yield batch_id, None, f"not a JSON object: {type(manifest).__name__}"


def release_probation(store: ObjectStore, buckets: Buckets, batch_ids: list[str]) -> list[str]:
    """Publish probation batches judged healthy."""
    marks = {"released_from_probation_at": now_iso()}
    return [b for b in batch_ids if publish_from_probation(store, buckets, b, marks)]


def report_held_too_long(model_name: str, batch_ids: list[str]) -> None:
    """Put HeldTooLong = the number of batches held past their limit that stay held: its alarm
    pages the operators (extend the hold, release the batch, or correct its inputs)."""
    log(logger, "batches held past their limit", level=40, batches=batch_ids)
    put_metrics(
        boto3.client("cloudwatch"),
        namespace(model_name),
        [_model_metric(model_name, "HeldTooLong", float(len(batch_ids)))],
    )


class AwsBreakerActions:
    def __init__(
        self,
        store: ObjectStore,
        buckets: Buckets,
        model_name: str,
        retrain_payload: dict | None = None,
    ):
        self.store, self.buckets, self.model_name = store, buckets, model_name
        self.retrain_payload = retrain_payload or {}
        self.events, self.cloudwatch = boto3.client("events"), boto3.client("cloudwatch")

    def disable_inference(self) -> None:
        self.events.disable_rule(Name=setting("INFERENCE_RULE_NAME"))

    def enable_inference(self) -> None:
        self.events.enable_rule(Name=setting("INFERENCE_RULE_NAME"))

    def request_retrain(self, cause: dict) -> None:
        invoke_async(
            "TRAIN_FUNCTION_NAME",
            {
                **self.retrain_payload,
                "actor": "breaker",
                "recovery": True,
                "reason": f"breaker opened: {cause.get('reason') or cause}",
            },
        )

    def score_held(self, probation: bool) -> None:
        invoke_async("INFER_FUNCTION_NAME", {"action": "score_held", "probation": probation})

    def release_probation(self, batch_ids: list[str]) -> list[str]:
        return release_probation(self.store, self.buckets, batch_ids)

    def scored_on_probation(self, version: str) -> list[str]:
        """The unpublished batches `version` scored on probation (an unreadable manifest is
        the hold sweep's to page)."""
        return [
            batch_id
            for batch_id, manifest, _ in unpublished_probation(self.store, self.buckets)
            if manifest is not None and manifest.get("model_version") == version
        ]

    def awaiting_verdict(self, batch_id: str) -> bool:
        """Scored on probation and not published."""
        return self.store.exists(
            self.buckets.predictions, storage.success_key(batch_id, probation=True)
        ) and not self.store.exists(self.buckets.predictions, storage.success_key(batch_id))

    def release_held(self, batch_id: str) -> None:
        """Infer scores and publishes a batch an operator released (the order is in its note)."""
        invoke_async("INFER_FUNCTION_NAME", ReleaseHeld(batch_id).payload())

    def reject_batch(self, batch_id: str, reason: dict) -> None:
        """A batch that breached on probation is held with its reason: kept, never published.
        The breaches go into its note: breached integrity rules mean it waits for corrected
        inputs."""
        breaches = reason.get("breaches") or []
        hold(
            self.store,
            self.buckets,
            batch_id,
            f"breached on probation: {breaches}",
            {"breaches": breaches},
        )

    def return_to_held(self, batch_id: str, reason: dict) -> None:
        """A batch that breached on probation through the candidate's fault (a performance
        rule): its probation output goes, and its inputs wait in held/ for the next candidate
        (they are moved there when the batch came in during probation)."""
        breaches = reason.get("breaches")
        if not any(self.store.list(self.buckets.data, storage.held_prefix(batch_id))):
            hold(
                self.store,
                self.buckets,
                batch_id,
                f"breached on probation: {breaches}" if breaches else reason["reason"],
            )
        # The manifest first: no _SUCCESS ever points at predictions that are gone. A sharded
        # run's plan goes with its parts, so the next candidate plans afresh.
        success = storage.success_key(batch_id, probation=True)
        try:
            manifest, _ = self.store.get_json(self.buckets.predictions, success)
        except ValueError:  # unreadable: it goes all the same, and so does predictions.csv
            manifest = None
        self.store.delete(self.buckets.predictions, success)
        keys = [storage.predictions_key(batch_id, probation=True)]
        shards = manifest.get("shards") if isinstance(manifest, dict) else None
        plan = shards.get("plan") if isinstance(shards, dict) else None
        if isinstance(plan, str) and plan:
            prefix = storage.shards_prefix(batch_id, plan)
            keys += [o["Key"] for o in self.store.list(self.buckets.predictions, prefix)]
        for key in keys:
            self.store.delete(self.buckets.predictions, key)

    def publish_state(self, state: str) -> None:
        put_metrics(
            self.cloudwatch,
            namespace(self.model_name),
            [_model_metric(self.model_name, "BreakerState", float(STATE_VALUE[state]))],
        )
