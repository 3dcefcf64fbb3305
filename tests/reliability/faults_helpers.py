"""Helpers the inputs and infrastructure-faults families share: AWS-shaped events, reading
outcomes back from S3, editing sample CSVs, and faults (a closed port, a breaker state
overwritten, a call that fails for one batch)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import socket
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import boto3
import pytest

from tests.integration.helpers import keys, sample_batch_files, upload_batch
from tests.reliability import evidence

# Read once: every case edits a copy of these bytes.
SAMPLE_FILES = sample_batch_files()
BOOKINGS, HOTELS = "bookings", "hotels"
SOURCES = (BOOKINGS, HOTELS)
SAMPLE_ROWS = SAMPLE_FILES[BOOKINGS].count(b"\n") - 1
STATE_KEY = "breaker/state.json"
EVENTS_KEY = "breaker/events.jsonl"


# --- events ---------------------------------------------------------------------------------


def s3_event(bucket: str, *object_keys: str) -> dict:
    """An S3 ObjectCreated notification as Lambda receives it (keys URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 1},
                },
            }
            for key in object_keys
        ]
    }


def alarm_event(name: str = "mlcycle-booking_status-JoinCoverage") -> dict:
    """A CloudWatch alarm entering ALARM, delivered to the breaker through SNS."""
    return evidence.alarm_event(name, "ALARM")


def upload(s3, bucket: str, batch_id: str, files: dict[str, bytes] | None = None) -> dict:
    """Upload a batch (the sample unless `files`) and return the notification of its last file."""
    files = dict(SAMPLE_FILES if files is None else files)
    upload_batch(s3, bucket, batch_id, files)
    return s3_event(bucket, f"incoming/{batch_id}/{list(files)[-1]}.csv")


# --- reading outcomes back ------------------------------------------------------------------


def read_json(s3, bucket: str, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def exists(s3, bucket: str, key: str) -> bool:
    return key in keys(s3, bucket, key)


def versions(s3, bucket: str, key: str) -> int:
    """How many versions of exactly `key` were ever written (delete markers not counted)."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return sum(1 for v in listed if v["Key"] == key)


def prediction_rows(s3, bucket: str, batch_id: str) -> list[dict]:
    body = s3.get_object(Bucket=bucket, Key=f"predictions/{batch_id}/predictions.csv")["Body"]
    return list(csv.DictReader(io.StringIO(body.read().decode())))


def assert_nothing_published(s3, buckets, batch_id: str) -> None:
    assert keys(s3, buckets.predictions, f"predictions/{batch_id}/") == []
    assert keys(s3, buckets.predictions, f"probation/{batch_id}/") == []


def assert_published_once(s3, buckets, batch_id: str, rows: int = SAMPLE_ROWS) -> dict:
    """One _SUCCESS version, and a predictions.csv with one row per input row."""
    success = f"predictions/{batch_id}/_SUCCESS"
    assert versions(s3, buckets.predictions, success) == 1
    manifest = read_json(s3, buckets.predictions, success)
    assert manifest["rows"] == rows
    assert len(prediction_rows(s3, buckets.predictions, batch_id)) == rows
    return manifest


def assert_untouched(s3, buckets, batch_id: str, sources=SOURCES) -> None:
    """The batch's inputs are still where they were uploaded: nothing lost, nothing moved."""
    assert keys(s3, buckets.data, f"incoming/{batch_id}/") == [
        f"incoming/{batch_id}/{s}.csv" for s in sorted(sources)
    ]


def assert_quarantined(
    s3, buckets, batch_id: str, result: dict, rule: str, column: str | None, sources=SOURCES
) -> dict:
    """Quarantined with `rule`/`column`: every file moved with a reason.json, nothing published."""
    assert result["status"] == "quarantined", result
    assert result["reason"]["rule"] == rule, result["reason"]
    assert result["reason"]["column"] == column, result["reason"]
    folder = f"quarantine/{batch_id}/"
    assert keys(s3, buckets.data, folder) == sorted(
        [f"{folder}{s}.csv" for s in sources] + [f"{folder}reason.json"]
    )
    doc = read_json(s3, buckets.data, f"{folder}reason.json")
    assert doc["reason"]["rule"] == rule and doc["reason"]["column"] == column
    assert set(doc["reason"]) >= {"file", "column", "rule", "detail", "message"}
    assert doc["stage"] == "inference"
    assert sorted(doc["files"]) == [f"{folder}{s}.csv" for s in sorted(sources)]
    assert keys(s3, buckets.data, f"incoming/{batch_id}/") == []
    assert_nothing_published(s3, buckets, batch_id)
    return doc


def assert_held(s3, buckets, batch_id: str, why: str) -> dict:
    folder = f"held/{batch_id}/"
    assert keys(s3, buckets.data, folder) == sorted(
        [f"{folder}{s}.csv" for s in SOURCES] + [f"{folder}held.json"]
    )
    note = read_json(s3, buckets.data, f"{folder}held.json")
    assert why in note["reason"], note
    assert keys(s3, buckets.data, f"incoming/{batch_id}/") == []
    assert_nothing_published(s3, buckets, batch_id)
    return note


# --- editing the sample ---------------------------------------------------------------------


def edit_csv(body: bytes, edit: Callable[[list[str]], list[str]]) -> bytes:
    lines = body.decode().splitlines()
    return ("\n".join(edit(lines)) + "\n").encode()


def set_field(lines: list[str], row: int, column: str, value: str) -> list[str]:
    """Line `row` (0 is the header) with `column` set to `value`."""
    header = lines[0].split(",")
    fields = lines[row].split(",")
    fields[header.index(column)] = value
    return lines[:row] + [",".join(fields)] + lines[row + 1 :]


def field(lines: list[str], row: int, column: str) -> str:
    return lines[row].split(",")[lines[0].split(",").index(column)]


def drop_column(lines: list[str], column: str) -> list[str]:
    idx = lines[0].split(",").index(column)
    return [",".join(f for i, f in enumerate(line.split(",")) if i != idx) for line in lines]


def add_column(lines: list[str], name: str, values: Callable[[int, str], str]) -> list[str]:
    """Append a column; `values(row, line)` gives each data row's value."""
    return [lines[0] + "," + name] + [
        line + "," + values(i, line) for i, line in enumerate(lines[1:], start=1)
    ]


def with_edit(source: str, edit: Callable[[list[str]], list[str]]) -> dict[str, bytes]:
    files = dict(SAMPLE_FILES)
    files[source] = edit_csv(files[source], edit)
    return files


def with_rows(rows: int) -> dict[str, bytes]:
    """The sample cut to its first `rows` bookings (hotels unchanged): a distinct healthy batch."""
    return with_edit(BOOKINGS, lambda ls: ls[: rows + 1])


# --- configuration and faults -------------------------------------------------------------


def use_config(monkeypatch: pytest.MonkeyPatch, **changes) -> None:
    """The handlers see the model config with `changes` (e.g. a smaller chunk_rows)."""
    from handlers import runtime

    changed = dataclasses.replace(runtime.config(), **changes)
    monkeypatch.setattr(runtime, "config", lambda: changed)


def closed_port_url() -> str:
    """An endpoint nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def s3_unreachable() -> Iterator[str]:
    """For the calls inside: AWS_ENDPOINT_URL is a closed port (one attempt, no retries)."""
    from handlers import runtime

    try:
        with pytest.MonkeyPatch.context() as patch:
            url = closed_port_url()
            patch.setenv("AWS_ENDPOINT_URL", url)
            patch.setenv("AWS_MAX_ATTEMPTS", "1")
            patch.setenv("AWS_RETRY_MODE", "standard")
            runtime.store.cache_clear()  # the warm container's client has the old endpoint
            yield url
    finally:
        runtime.store.cache_clear()


def put_state(s3, buckets, body: bytes | dict | None) -> None:
    """Overwrite the breaker state object (None deletes it), as a stray write or a bug would."""
    if body is None:
        s3.delete_object(Bucket=buckets.monitoring, Key=STATE_KEY)
        return
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    s3.put_object(Bucket=buckets.monitoring, Key=STATE_KEY, Body=body)


def state_bytes(s3, buckets) -> bytes | None:
    try:
        return s3.get_object(Bucket=buckets.monitoring, Key=STATE_KEY)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None


def inference_rule(monkeypatch: pytest.MonkeyPatch) -> str:
    """An EventBridge rule for the breaker to disable and enable (INFERENCE_RULE_NAME)."""
    import uuid

    name = f"inference-{uuid.uuid4().hex[:8]}"
    boto3.client("events").put_rule(Name=name, ScheduleExpression="rate(1 hour)", State="ENABLED")
    monkeypatch.setenv("INFERENCE_RULE_NAME", name)
    return name


def rule_state(name: str) -> str:
    return boto3.client("events").describe_rule(Name=name)["State"]


class Invocations:
    """Records the asynchronous invokes a handler asks for (no Lambda runtime here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.calls: list[tuple[str, dict]] = []
        for name in ("TRAIN_FUNCTION_NAME", "INFER_FUNCTION_NAME", "BREAKER_FUNCTION_NAME"):
            monkeypatch.setenv(name, name.lower().replace("_function_name", ""))
        from mlcycle.breaker import effects, gate

        monkeypatch.setattr(effects, "invoke_async", self._record)
        monkeypatch.setattr(gate, "invoke_async", self._record)

    def _record(self, function_env: str, payload: dict) -> None:
        self.calls.append((function_env, payload))
