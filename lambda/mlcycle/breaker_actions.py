"""What the breaker does to the world, on AWS: rule on/off, async invokes, metrics, releases."""
from __future__ import annotations

import datetime as dt
import json
import os

import boto3

from mlcycle import storage
from mlcycle.breaker import STATE_VALUE
from mlcycle.batches import hold
from mlcycle.logs import get_logger, log
from mlcycle.monitoring.publish import namespace
from mlcycle.storage import Buckets, ObjectStore

logger = get_logger("mlcycle.breaker")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (the breaker needs it)")
    return value


def release_probation(store: ObjectStore, buckets: Buckets, batch_ids: list[str]) -> list[str]:
    """Publish probation batches judged healthy: predictions.csv first, then the _SUCCESS manifest."""
    released = []
    for batch_id in batch_ids:
        manifest, _ = store.get_json(buckets.predictions, storage.success_key(batch_id, probation=True))
        if manifest is None or store.exists(buckets.predictions, storage.success_key(batch_id)):
            continue
        store.s3.copy_object(Bucket=buckets.predictions, Key=storage.predictions_key(batch_id),
                             CopySource={"Bucket": buckets.predictions, "Key": storage.predictions_key(batch_id, True)})
        published = {**manifest, "probation": False, "predictions_key": storage.predictions_key(batch_id),
                     "released_from_probation_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        store.put_json(buckets.predictions, storage.success_key(batch_id), published)
        released.append(batch_id)
    return released


class AwsBreakerActions:
    def __init__(self, store: ObjectStore, buckets: Buckets, model_name: str, retrain_payload: dict | None = None):
        self.store, self.buckets, self.model_name = store, buckets, model_name
        self.retrain_payload = retrain_payload or {}
        self.events, self.lambdas, self.cloudwatch = boto3.client("events"), boto3.client("lambda"), boto3.client("cloudwatch")

    def disable_inference(self) -> None:
        self.events.disable_rule(Name=_env("INFERENCE_RULE_NAME"))

    def enable_inference(self) -> None:
        self.events.enable_rule(Name=_env("INFERENCE_RULE_NAME"))

    def _invoke_async(self, function_env: str, payload: dict) -> None:
        self.lambdas.invoke(FunctionName=_env(function_env), InvocationType="Event",
                            Payload=json.dumps(payload, default=str).encode())
        log(logger, "asynchronous invoke", function=os.environ[function_env], payload=payload)

    def request_retrain(self, cause: dict) -> None:
        self._invoke_async("TRAIN_FUNCTION_NAME", {**self.retrain_payload, "actor": "breaker", "recovery": True,
                                                   "reason": f"breaker opened: {cause.get('reason') or cause}"})

    def score_held(self, probation: bool) -> None:
        self._invoke_async("INFER_FUNCTION_NAME", {"action": "score_held", "probation": probation})

    def release_probation(self, batch_ids: list[str]) -> list[str]:
        return release_probation(self.store, self.buckets, batch_ids)

    def reject_batch(self, batch_id: str, reason: dict) -> None:
        """A batch that breached on probation is held with its reason: kept, never published."""
        hold(self.store, self.buckets, batch_id, f"breached on probation: {reason.get('breaches')}")

    def publish_state(self, state: str) -> None:
        self.cloudwatch.put_metric_data(Namespace=namespace(self.model_name), MetricData=[{
            "MetricName": "BreakerState", "Value": float(STATE_VALUE[state]),
            "Dimensions": [{"Name": "ModelName", "Value": self.model_name}]}])
