"""Shared fixtures: a real moto_server over HTTP, fresh buckets per test, the model folder."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import boto3
import pytest

from deployment.emulator_env import EMULATOR_ENV
from local_aws.emulator import running_emulator

# Same reason as the Makefile: OpenMP spin-waits make 2-thread fits far slower here.
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "model"
VIO_DATA = ROOT.parent / "shared" / "vio-data"


# The longest files go first (70-140 s each of a 400-s `make test` with two workers on
# 2026-12-01; test_packages pays for the cold dependency build in a fresh clone): workers take
# files in collection order, so the short ones fill in around these rather than one worker
# running a long file alone at the end.
LONGEST_FIRST = (
    "tests/integration/test_stack.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_breaker_cycle.py",
    "tests/e2e/test_cli.py",
    "tests/integration/test_executor.py",
    "tests/integration/test_packages.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.nodeid.split("::")[0]  # relative to the rootdir, wherever the item is
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: a file's tests keep their order


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory):
    """One moto_server process for the session, on a free port; stopped at the end."""
    log = tmp_path_factory.mktemp("emulator") / "moto_server.log"
    with running_emulator(log_path=log) as url:
        yield url


@pytest.fixture(scope="session")
def signing_key(emulator_url):
    """The model signing key Terraform creates (ECC P-256, sign/verify), once per session."""
    kms = boto3.client(
        "kms",
        endpoint_url=emulator_url,
        region_name=EMULATOR_ENV["AWS_REGION"],
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    return kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]


@pytest.fixture
def aws_env(emulator_url, signing_key, monkeypatch):
    """Point boto3 at the emulator the way a deployed function is pointed: environment only."""
    for name, value in {
        **EMULATOR_ENV,
        "AWS_ENDPOINT_URL": emulator_url,
        "MODEL_SIGNING_KEY_ID": signing_key,
    }.items():
        monkeypatch.setenv(name, value)
    return emulator_url


@pytest.fixture
def buckets(aws_env, monkeypatch):
    """Four fresh buckets per test, named in the env vars the handlers read, and the breaker
    state a deployment creates."""
    from mlcycle.breaker.state import create_initial
    from mlcycle.objectstore import ObjectStore
    from mlcycle.storage import Buckets

    s3 = boto3.client("s3")
    suffix = uuid.uuid4().hex[:8]
    names = Buckets(
        f"data-{suffix}", f"models-{suffix}", f"predictions-{suffix}", f"monitoring-{suffix}"
    )
    for env, name in zip(
        ("DATA_BUCKET", "MODEL_BUCKET", "PREDICTIONS_BUCKET", "MONITORING_BUCKET"),
        (names.data, names.models, names.predictions, names.monitoring),
        strict=True,
    ):
        s3.create_bucket(Bucket=name)
        # Versioned, as deployed: published batches are read back at the version scored.
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv(env, name)
    monkeypatch.setenv("MODEL_DIR", str(MODEL_DIR))
    create_initial(ObjectStore(s3), names.monitoring)
    return names


@pytest.fixture
def s3(aws_env):
    return boto3.client("s3")
