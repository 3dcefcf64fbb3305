"""Fixtures of the unit tests that need AWS: moto's in-process services, never a server."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from mlcycle.breaker import effects
from mlcycle.breaker.state import create_initial
from mlcycle.config import load_config
from mlcycle.objectstore import ObjectStore
from tests.conftest import MODEL_DIR
from tests.unit.breaker_world import BUCKETS, REGION, RULE


@pytest.fixture
def world(monkeypatch):
    """(store, payloads of the asynchronous invokes the breaker made, the config) in a fresh
    in-process AWS with a CLOSED breaker."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "INFERENCE_RULE_NAME": RULE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    invoked: list[dict] = []
    monkeypatch.setattr(effects, "invoke_async", lambda env, payload: invoked.append(payload))
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (BUCKETS.data, BUCKETS.models, BUCKETS.predictions, BUCKETS.monitoring):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        boto3.client("events", region_name=REGION).put_rule(
            Name=RULE, ScheduleExpression="rate(1 hour)", State="ENABLED"
        )
        store = ObjectStore(s3)
        create_initial(store, BUCKETS.monitoring)
        yield store, invoked, load_config(MODEL_DIR / "model_config.yml")
