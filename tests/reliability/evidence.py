"""What the events, payloads and trust cases send and what they look at afterwards.

Events are built as AWS delivers them (S3 records with a URL-encoded key, the object's
version id and ETag; SNS records carrying a CloudWatch alarm). Evidence is read from the
buckets themselves: every object version and delete marker, so "changed nothing" means
no write at all, not only "the current objects look the same".
"""

from __future__ import annotations

import functools
import io
import json
import os
import threading
import urllib.parse
import uuid
import zipfile
from collections.abc import Callable

import boto3
import pytest

from mlcycle.storage import Buckets
from tests.integration.helpers import sample_batch_files, upload_batch

MODEL = "booking_status"
SAMPLE_ROWS = 500  # rows in data/sample/incoming/2026-01-02/bookings.csv


def new_batch_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


# --- events as AWS delivers them ---------------------------------------------------------


def s3_record(bucket: str, key: str, version_id: str | None, etag: str | None) -> dict:
    obj: dict = {"key": urllib.parse.quote_plus(key, safe="/"), "size": 1}
    if version_id:
        obj["versionId"] = version_id
    if etag:
        obj["eTag"] = etag.strip('"')
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket}, "object": obj},
    }


def s3_event(s3, bucket: str, *keys: str) -> dict:
    """The notification S3 sends for the current version of each key."""
    records = []
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        records.append(s3_record(bucket, key, head.get("VersionId"), head["ETag"]))
    return {"Records": records}


def alarm_event(name: str, state: str, metric: str = "JoinCoverage") -> dict:
    message = {
        "AlarmName": name,
        "NewStateValue": state,
        "NewStateReason": f"Threshold Crossed: test drives {name} to {state}",
        "StateChangeTime": "2026-01-02T10:00:00.000+0000",
        "Trigger": {
            "MetricName": metric,
            "Namespace": f"MLCycle/{MODEL}",
            "Threshold": 0.8,
            "ComparisonOperator": "LessThanThreshold",
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "Sns": {"Type": "Notification", "Message": json.dumps(message)},
            }
        ]
    }


# --- batches -----------------------------------------------------------------------------


def upload_sample(s3, buckets: Buckets, batch_id: str, files: dict | None = None) -> dict:
    """Upload a batch's sources; returns the S3 event of the last upload (it triggers infer)."""
    files = files if files is not None else sample_batch_files()
    upload_batch(s3, buckets.data, batch_id, files)
    return s3_event(s3, buckets.data, f"incoming/{batch_id}/{sorted(files)[-1]}.csv")


def publish(s3, buckets: Buckets, batch_id: str) -> dict:
    """Upload the sample batch and score it through the infer handler; the manifest."""
    from handlers import infer

    result = infer.handler(upload_sample(s3, buckets, batch_id), None)
    [outcome] = result["results"]
    assert outcome["status"] == "published", outcome
    return get_json(s3, buckets.predictions, f"predictions/{batch_id}/_SUCCESS")


def bad_files() -> dict[str, bytes]:
    """The sample batch with a required column dropped: the contract refuses it."""
    files = sample_batch_files()
    lines = files["bookings"].decode().splitlines()
    header = lines[0].split(",")
    drop = header.index("check_in")
    kept = [",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in lines]
    return {**files, "bookings": ("\n".join(kept) + "\n").encode()}


# --- evidence ----------------------------------------------------------------------------


def get_json(s3, bucket: str, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def versions(s3, bucket: str, key: str) -> list[dict]:
    """Every stored version of exactly `key` (not delete markers), newest first."""
    found = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v for v in found if v["Key"] == key]


def version_docs(s3, bucket: str, key: str) -> list[dict]:
    """Every stored version of a JSON object, parsed, newest first."""
    return [
        json.loads(s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])["Body"].read())
        for v in versions(s3, bucket, key)
    ]


def snapshot(s3, bucket: str) -> set[tuple]:
    """Every version and delete marker in a bucket: any write at all changes it."""
    seen: set[tuple] = set()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []):
            seen.add(("version", v["Key"], v["VersionId"], v["ETag"]))
        for m in page.get("DeleteMarkers", []):
            seen.add(("delete-marker", m["Key"], m["VersionId"]))
    return seen


def snapshot_all(s3, buckets: Buckets) -> dict[str, set[tuple]]:
    return {
        name: snapshot(s3, getattr(buckets, name))
        for name in ("data", "models", "predictions", "monitoring")
    }


def current_keys(s3, bucket: str, prefix: str = "") -> list[str]:
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in found)


def run_together(count: int, call: Callable[[], dict]) -> list[dict | BaseException]:
    """Start `count` calls at the same instant (a barrier); their results or exceptions."""
    barrier = threading.Barrier(count)
    outcomes: list[dict | BaseException] = [RuntimeError("did not finish")] * count

    def worker(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = call()
        except BaseException as exc:  # noqa: BLE001 - the case asserts on it
            outcomes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


# --- the functions' wiring (what Terraform sets on the breaker) -----------------------------


class AsyncInvokes:
    """Records the asynchronous invokes a handler makes, and still sends them to the emulator."""

    def __init__(self, real: Callable[[str, dict], None]):
        self.real, self.calls = real, []

    def __call__(self, function_env: str, payload: dict) -> None:
        self.calls.append((function_env, payload))
        self.real(function_env, payload)


@functools.lru_cache(maxsize=4)
def _stack_functions(endpoint: str) -> tuple[tuple[str, str], ...]:
    """The stack's functions in the emulator at `endpoint`, created once: stand-ins that only
    receive the handlers' asynchronous invokes. ((variable, name), ...)"""
    suffix = uuid.uuid4().hex[:8]
    role = boto3.client("iam").create_role(
        RoleName=f"fn-{suffix}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("main.py", "def handler(event, context):\n    return event\n")
    names = []
    for fn in ("train", "infer", "monitor", "breaker"):
        name = f"{fn}-{suffix}"
        boto3.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="main.handler",
            Code={"ZipFile": code.getvalue()},
        )
        names.append((f"{fn.upper()}_FUNCTION_NAME", name))
    return tuple(names)


def wire_functions(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh inference rule (ENABLED) and the stack's functions, named in the environment
    variables the handlers read, as Terraform sets them. Returns {variable: name}."""
    names = dict(_stack_functions(os.environ["AWS_ENDPOINT_URL"]))
    rule = f"inference-{uuid.uuid4().hex[:8]}"
    boto3.client("events").put_rule(Name=rule, ScheduleExpression="rate(1 hour)")
    names["INFERENCE_RULE_NAME"] = rule
    for variable, name in names.items():
        monkeypatch.setenv(variable, name)
    return names


def record_invokes(monkeypatch: pytest.MonkeyPatch, *modules) -> AsyncInvokes:
    """Record the async invokes made through `invoke_async` in each module given."""
    from mlcycle import invoke

    recorder = AsyncInvokes(invoke.invoke_async)
    for module in modules:
        monkeypatch.setattr(module, "invoke_async", recorder)
    return recorder


def rule_state(name: str) -> str:
    return boto3.client("events").describe_rule(Name=name)["State"]
