"""What the breaker does to the world, on AWS: rule on/off, async invokes, metrics, releases."""
from __future__ import annotations

import datetime as dt
import json
import os

import boto3

from mlcycle import storage
from mlcycle.breaker import STATE_VALUE
from mlcycle.logs import get_logger, log
from mlcycle.monitoring.publish import namespace
from mlcycle.storage import Buckets, ObjectStore

logger = get_logger("mlcycle.breaker")


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set (the breaker needs it)")
    return value


def release_probation(store: ObjectStore, buckets: Buckets) -> list[str]:
    """Publish every probation batch: predictions.csv first, then the _SUCCESS manifest, as scoring does."""
    released = []
    for batch_id in store.list_folders(buckets.predictions, "probation/"):
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
        self._invoke_async("TRAIN_FUNCTION_NAME", {**self.retrain_payload, "actor": "breaker",
                                                   "reason": f"breaker opened: {cause.get('reason') or cause}"})

    def score_held(self, probation: bool) -> None:
        self._invoke_async("INFER_FUNCTION_NAME", {"action": "score_held", "probation": probation})

    def release_probation(self) -> list[str]:
        return release_probation(self.store, self.buckets)

    def publish_state(self, state: str) -> None:
        self.cloudwatch.put_metric_data(Namespace=namespace(self.model_name), MetricData=[{
            "MetricName": "BreakerState", "Value": float(STATE_VALUE[state]),
            "Dimensions": [{"Name": "ModelName", "Value": self.model_name}]}])
