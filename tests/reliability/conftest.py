"""The reliability catalogue shares one moto_server (the session's) and one champion.

`champion_models` trains once into its own models bucket. `deployed` gives each test fresh
data, predictions and monitoring buckets (versioned, breaker state created as a deployment
does) beside that shared models bucket, so a test may break its breaker or its batches
without touching another test. Tests that register or tamper with versions use
`own_models`, a models bucket of their own with a copy of the champion.
"""

from __future__ import annotations

import uuid

import boto3
import pytest

from tests.conftest import MODEL_DIR
from tests.integration.helpers import upload_training


def _bucket(s3, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def _point_env(
    patch: pytest.MonkeyPatch, data: str, models: str, predictions: str, monitoring: str
) -> None:
    for env, name in (
        ("DATA_BUCKET", data),
        ("MODEL_BUCKET", models),
        ("PREDICTIONS_BUCKET", predictions),
        ("MONITORING_BUCKET", monitoring),
    ):
        patch.setenv(env, name)
    patch.setenv("MODEL_DIR", str(MODEL_DIR))


@pytest.fixture(scope="session")
def champion_models(emulator_url, signing_key):
    """A models bucket holding one signed champion (v0001) trained on the sample data."""
    from deployment.emulator_env import EMULATOR_ENV
    from handlers import train
    from mlcycle.breaker.state import create_initial
    from mlcycle.objectstore import ObjectStore

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            **EMULATOR_ENV,
            "AWS_ENDPOINT_URL": emulator_url,
            "MODEL_SIGNING_KEY_ID": signing_key,
        }.items():
            patch.setenv(name, value)
        s3 = boto3.client("s3")
        names = [_bucket(s3, p) for p in ("data", "models", "predictions", "monitoring")]
        _point_env(patch, *names)
        create_initial(ObjectStore(s3), names[3])
        upload_training(s3, names[0])
        result = train.handler({}, None)
        assert result["status"] == "promoted", result
        return names[1]


@pytest.fixture
def deployed(aws_env, champion_models, monkeypatch):
    """Fresh data / predictions / monitoring buckets beside the shared champion."""
    from mlcycle.breaker.state import create_initial
    from mlcycle.objectstore import ObjectStore
    from mlcycle.storage import Buckets

    s3 = boto3.client("s3")
    buckets = Buckets(
        _bucket(s3, "data"), champion_models, _bucket(s3, "predictions"), _bucket(s3, "monitoring")
    )
    _point_env(monkeypatch, buckets.data, buckets.models, buckets.predictions, buckets.monitoring)
    create_initial(ObjectStore(s3), buckets.monitoring)
    return buckets


@pytest.fixture
def own_models(deployed, monkeypatch):
    """`deployed`, with a models bucket of the test's own holding a copy of the champion."""
    import dataclasses

    s3 = boto3.client("s3")
    models = _bucket(s3, "models")
    for obj in s3.list_objects_v2(Bucket=deployed.models).get("Contents", []):
        s3.copy_object(
            Bucket=models, Key=obj["Key"], CopySource={"Bucket": deployed.models, "Key": obj["Key"]}
        )
    monkeypatch.setenv("MODEL_BUCKET", models)
    return dataclasses.replace(deployed, models=models)
