"""What the recorder reads from moto's recording: which services a request may have
reconfigured, besides the S3 writes, metric puts and async invokes."""

import base64
import gzip
import json

import pytest

from local_aws.moto_recorder import Recorder


def _entry(service: str, method: str, path: str, target: str = "", body: bytes = b"") -> dict:
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/{service}/"
        "aws4_request, SignedHeaders=host, Signature=00",
        "Host": "127.0.0.1:4566",
    }
    if target:
        headers["X-Amz-Target"] = target
    return {
        "headers": headers,
        "method": method,
        "url": f"http://127.0.0.1:4566{path}",
        "body": base64.b64encode(body).decode(),
        "body_encoded": True,
    }


def _drained(tmp_path, *entries):
    recording = tmp_path / "recording.jsonl"
    recording.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return Recorder("http://127.0.0.1:1", recording, concurrent=False).drain()


READS_AND_DATA = [
    _entry("events", "POST", "/", "AWSEvents.ListRules"),
    _entry("events", "POST", "/", "AWSEvents.DescribeRule"),
    _entry("events", "POST", "/", "AWSEvents.PutEvents"),
    _entry("lambda", "GET", "/2015-03-31/functions/mlcycle-infer"),
    _entry("lambda", "POST", "/2015-03-31/functions/mlcycle-infer/invocations", body=b"{}"),
    _entry("monitoring", "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData"),
    _entry("monitoring", "POST", "/", "GraniteServiceVersion20100801.DescribeAlarms"),
    _entry("monitoring", "POST", "/", body=b"Action=GetMetricData&Version=2010-08-01"),
    _entry("s3", "PUT", "/bucket/incoming/b-1/bookings.csv", body=b"hotel_id\n1\n"),
    _entry("logs", "POST", "/", "Logs_20140328.CreateLogStream"),
]


def test_reads_invokes_metric_puts_and_data_reconfigure_nothing(tmp_path):
    drained = _drained(tmp_path, *READS_AND_DATA)
    assert drained.reconfigured == set()
    assert drained.metric_puts == 1
    assert drained.s3_writes == [("127.0.0.1:4566", "/bucket/incoming/b-1/bookings.csv")]


@pytest.mark.parametrize(
    "entry,service",
    [
        (_entry("events", "POST", "/", "AWSEvents.DisableRule"), "events"),
        (_entry("events", "POST", "/", "AWSEvents.PutTargets"), "events"),
        (_entry("lambda", "PUT", "/2015-03-31/functions/mlcycle-infer/configuration"), "lambda"),
        (_entry("lambda", "DELETE", "/2019-09-25/functions/f/event-invoke-config"), "lambda"),
        (
            _entry("monitoring", "POST", "/", "GraniteServiceVersion20100801.SetAlarmState"),
            "monitoring",
        ),
        (
            _entry("monitoring", "POST", "/", body=b"Action=PutMetricAlarm&AlarmName=a"),
            "monitoring",
        ),
        # an operation not told apart counts as a change
        (_entry("monitoring", "POST", "/"), "monitoring"),
    ],
)
def test_a_write_names_its_service(tmp_path, entry, service):
    assert _drained(tmp_path, *READS_AND_DATA, entry).reconfigured == {service}


def _metric_put(body: bytes, **headers) -> dict:
    entry = _entry(
        "monitoring", "POST", "/", "GraniteServiceVersion20100801.PutMetricData", body=body
    )
    entry["headers"].update(headers)
    return entry


def test_json_metric_puts_are_read_whole_and_the_others_counted(tmp_path):
    body = {"Namespace": "MLCycle/m", "MetricData": [{"MetricName": "RuleVerdict", "Value": 2}]}
    raw = json.dumps(body).encode()
    drained = _drained(
        tmp_path,
        _metric_put(raw),
        _metric_put(gzip.compress(raw), **{"Content-Encoding": "gzip"}),  # the SDK's large ones
        _metric_put(b"{not json"),
        _entry(
            "monitoring", "POST", "/service/GraniteServiceVersion20100801/operation/PutMetricData"
        ),
    )
    assert drained.metric_puts == 4
    assert drained.metric_data == [body, body]
    assert drained.undecoded_puts == 2
