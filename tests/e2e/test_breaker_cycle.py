"""The breaker cycle end to end on the emulator stack, every step run by the deployed functions:

a source outage -> infer's gate trips before publication -> the batch is held and infer asks
the breaker (synchronously) to open -> rule DISABLED -> the next batch is held, not scored ->
retrain -> HALF_OPEN -> probation -> CLOSED -> the held clean batch is published with the new
model version, the outage batch never. Clean batches trip nothing, and a covariate shift (a
last-minute campaign) is published with a warning and opens nothing: drift warns, it does
not trip.
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


def _moves(s3, monitoring):
    lines = s3.get_object(Bucket=monitoring, Key="breaker/events.jsonl")["Body"].read()
    events = [json.loads(line) for line in lines.decode().splitlines()]
    return [e for e in events if e["from"] != e["to"]]


def test_an_outage_trips_the_gate_holds_retrains_probates_closes_and_publishes(live_stack, client):
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

    for day in range(1, 9):  # clean days trip nothing
        _upload(s3, data, f"clean-{day:02d}", make_batch(f"2026-02-{day + 1:02d}", 1000, seed=21))
        ex.settle()
        ex.advance(timedelta(hours=1))
    _upload(
        s3, data, "campaign", make_batch("2026-02-10", 1000, seed=21, incident="covariate_shift")
    )
    ex.settle()
    manifest = _json(s3, predictions, "predictions/campaign/_SUCCESS")
    assert "FeatureDrift" in manifest["warnings"] and not manifest["gate"]["trips"]
    assert not _keys(s3, monitoring, "breaker/events.jsonl")
    assert len(_keys(s3, predictions, "predictions/")) == 18
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"

    _upload(s3, data, "outage", make_batch("2026-02-11", 1000, seed=21, incident="source_outage"))
    ex.settle()
    assert not _keys(s3, predictions, "predictions/outage/")  # caught before publication
    held = _json(s3, data, "held/outage/held.json")
    assert "JoinCoverage" in held["gate"]["trips"] and held["model_version"] == "v0001"
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "OPEN" and state["cause"]["source"] == "gate"
    assert [i.source for i in ex.invocations if i.function == fn["breaker"]][-1] == "sync"
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"

    _upload(s3, data, "next", make_batch("2026-02-12", 1000, seed=22))
    ex.settle()
    assert _keys(s3, data, "held/next/") == [
        "held/next/bookings.csv",
        "held/next/held.json",
        "held/next/hotels.csv",
    ]
    assert not _keys(s3, predictions, "predictions/next/") and not _keys(
        s3, predictions, "probation/next/"
    )

    ex.advance(timedelta(hours=5))  # retrained: the new champion starts probation on held batches
    for name, day in (("after", "2026-02-13"), ("later", "2026-02-14")):
        _upload(s3, data, name, make_batch(day, 1000, seed=23))
        ex.settle()
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "CLOSED"
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    new_version = state["probation"]["model_version"]
    assert new_version != "v0001"
    for batch_id in ("after", "later"):
        manifest = _json(s3, predictions, f"predictions/{batch_id}/_SUCCESS")
        assert manifest["model_version"] == new_version and manifest["rows"] == 1000
    assert not _keys(s3, predictions, "predictions/outage/")  # its input was what was wrong
    moves = [(e["from"], e["to"], e["actor"]) for e in _moves(s3, monitoring)]
    assert moves[0] == ("CLOSED", "OPEN", "gate") and moves[-1][:2] == ("HALF_OPEN", "CLOSED")
    # The outage batch never went to probation: the held clean batch is released on close.
    manifest = _json(s3, predictions, "predictions/next/_SUCCESS")
    assert manifest["model_version"] == new_version and manifest["rows"] == 1000
