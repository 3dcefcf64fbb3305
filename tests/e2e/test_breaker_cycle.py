"""Part 2 end to end on the emulator stack, every step run by the deployed functions:

drifted batch -> metric over threshold -> alarm -> breaker OPEN -> rule DISABLED -> the next
batch is held, not scored -> retrain -> HALF_OPEN -> probation -> CLOSED -> the held batch is
published with the new model version; and clean batches trip nothing.
"""

import json
from datetime import timedelta

from data.generate import make_batch, make_training
from demo.scenario import csv_bytes
from local_aws.executor import Executor
from tests.e2e.conftest import START, retrain_delay


def _json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _keys(s3, bucket, prefix):
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    )


def _upload(s3, bucket, batch_id, batch):
    s3.put_object(
        Bucket=bucket, Key=f"incoming/{batch_id}/bookings.csv", Body=csv_bytes(batch.bookings)
    )
    s3.put_object(
        Bucket=bucket, Key=f"incoming/{batch_id}/hotels.csv", Body=csv_bytes(batch.hotels)
    )


def test_drift_trips_holds_retrains_probates_closes_and_publishes(live_stack, client):
    outputs, url, packages = live_stack
    s3, events = client("s3"), client("events")
    data, predictions, monitoring = (
        outputs["data_bucket"],
        outputs["predictions_bucket"],
        outputs["monitoring_bucket"],
    )
    fn = outputs["function_names"]
    rule = outputs["rule_names"]["inference"]
    ex = Executor(url, packages, START, async_delays=retrain_delay())

    bookings, hotels = make_training(12000, seed=21)
    s3.put_object(Bucket=data, Key="training/bookings/bookings.csv", Body=csv_bytes(bookings))
    s3.put_object(Bucket=data, Key="training/hotels/hotels.csv", Body=csv_bytes(hotels))
    assert ex.invoke(fn["train"], {})["version"] == "v0001"

    for day in range(1, 11):  # ten clean days trip nothing
        _upload(s3, data, f"clean-{day:02d}", make_batch(f"2026-02-{day + 1:02d}", 1000, seed=21))
        ex.settle()
        ex.advance(timedelta(hours=1))
    assert not _keys(s3, monitoring, "breaker/events.jsonl")
    assert len(_keys(s3, predictions, "predictions/")) == 20
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"

    _upload(
        s3, data, "shifted", make_batch("2026-02-12", 1000, seed=21, incident="covariate_shift")
    )
    ex.settle()
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "OPEN" and state["cause"]["reason"] == "alarm"
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"

    _upload(s3, data, "next", make_batch("2026-02-13", 1000, seed=22))
    ex.settle()
    assert _keys(s3, data, "held/next/") == [
        "held/next/bookings.csv",
        "held/next/held.json",
        "held/next/hotels.csv",
    ]
    assert not _keys(s3, predictions, "predictions/next/") and not _keys(
        s3, predictions, "probation/next/"
    )

    ex.advance(
        timedelta(hours=3)
    )  # the retrain finishes; the new champion starts probation on the held batch
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "HALF_OPEN" and state["probation"]["healthy"] == ["next"]
    new_version = state["probation"]["model_version"]
    assert new_version != "v0001"

    _upload(s3, data, "after", make_batch("2026-02-14", 1000, seed=23))
    ex.settle()
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "CLOSED"
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    manifest = _json(s3, predictions, "predictions/next/_SUCCESS")
    assert manifest["model_version"] == new_version and manifest["rows"] == 1000
    lines = (
        s3.get_object(Bucket=monitoring, Key="breaker/events.jsonl")["Body"]
        .read()
        .decode()
        .splitlines()
    )
    moves = [(e["from"], e["to"]) for e in map(json.loads, lines) if e["from"] != e["to"]]
    assert moves == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]
    alarm_event = json.loads(lines[0])
    assert alarm_event["actor"].startswith("alarm:") and alarm_event["cause"]["metric"] in (
        "MaxPSI",
        "PredictionDrift",
    )


def test_operator_can_open_and_close_with_aws_lambda_invoke(live_stack, client):
    outputs, url, packages = live_stack
    ex = Executor(url, packages, START + timedelta(days=20))
    fn = outputs["function_names"]["breaker"]
    opened = ex.invoke(
        fn, {"action": "open", "reason": "upstream vendor incident", "actor": "alice"}
    )
    assert opened["state"]["state"] == "OPEN" and opened["event"]["actor"] == "alice"
    status = ex.invoke(fn, {"action": "status"})
    assert (
        status["state"]["state"] == "OPEN"
        and status["recent_events"][-1]["cause"]["reason"] == "upstream vendor incident"
    )
    closed = ex.invoke(fn, {"action": "close", "reason": "vendor fixed the feed", "actor": "alice"})
    assert closed["state"]["state"] == "CLOSED"
