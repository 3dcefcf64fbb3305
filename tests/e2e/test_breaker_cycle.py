"""The breaker cycle end to end on the emulator stack, every step run by the deployed functions:

a source outage -> infer's gate trips before publication on integrity rules -> the batch is
held for corrected inputs and the breaker (asked synchronously) records it without a
transition: the model is fine, so nothing opens and nothing retrains -> the next batch
publishes normally -> the corrected re-upload of the outage batch publishes with the same
champion. Then an operator opens the breaker -> rule DISABLED -> the next batch is held ->
the operator rolls back to the previous champion -> HALF_OPEN -> probation -> CLOSED -> the
held batch is published with the rolled-back version. Clean batches trip nothing, and a
covariate shift (a last-minute campaign) opens nothing: drift warns, it does not trip. Its
batch waits in held/ for its first labels, which the monitor finds on time, and the next
rescan publishes it with the warning.
"""

import json
from datetime import timedelta

from data.generate import label_increment, make_batch, make_training
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


def _lines(s3, monitoring):
    lines = s3.get_object(Bucket=monitoring, Key="breaker/events.jsonl")["Body"].read()
    return [json.loads(line) for line in lines.decode().splitlines()]


def test_an_outage_is_held_for_its_inputs_and_an_open_breaker_retrains_probates_closes(
    live_stack, client
):
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
    campaign = make_batch("2026-02-10", 1000, seed=21, incident="covariate_shift")
    _upload(s3, data, "campaign", campaign)
    ex.settle()
    waiting = _json(s3, data, "held/campaign/held.json")
    assert "FeatureDrift" in waiting["gate"]["warnings"] and not waiting["gate"]["trips"]
    assert not _keys(s3, predictions, "predictions/campaign/")
    # The first increment (what became known through the batch's day), named on the
    # platform's calendar: label age 0.
    named = waiting["held_at"][:10]
    increment = csv_bytes(label_increment(campaign, "2026-02-10"))
    s3.put_object(Bucket=data, Key=f"labels/campaign/{named}.csv", Body=increment)
    ex.settle()
    confirmed = _json(s3, data, "held/campaign/held.json")["confirmed"]
    assert confirmed["overdue"] == 0 and confirmed["due"] > 20, confirmed
    ex.advance(timedelta(hours=1))  # the hourly rescan publishes it
    manifest = _json(s3, predictions, "predictions/campaign/_SUCCESS")
    assert "FeatureDrift" in manifest["warnings"] and not manifest["gate"]["trips"]
    assert not _keys(s3, monitoring, "breaker/events.jsonl")
    assert len(_keys(s3, predictions, "predictions/")) == 18
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"

    outage = make_batch("2026-02-11", 1000, seed=21, incident="source_outage")
    _upload(s3, data, "outage", outage)
    ex.settle()
    assert not _keys(s3, predictions, "predictions/outage/")  # caught before publication
    held = _json(s3, data, "held/outage/held.json")
    assert "JoinCoverage" in held["gate"]["trips"] and held["model_version"] == "v0001"
    assert [i.source for i in ex.invocations if i.function == fn["breaker"]] == ["sync"]
    assert _json(s3, monitoring, "breaker/state.json")["state"] == "CLOSED"
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    [line] = _lines(s3, monitoring)
    assert (line["from"], line["to"], line["actor"]) == ("CLOSED", "CLOSED", "gate")
    assert line["cause"]["action"] == "held for corrected inputs"
    assert line["cause"]["batch_id"] == "outage" and "JoinCoverage" in line["cause"]["rules"]
    assert not [i for i in ex.invocations if i.function == fn["train"] and i.source == "async"]

    _upload(s3, data, "next", make_batch("2026-02-12", 1000, seed=22))
    ex.settle()
    assert _json(s3, predictions, "predictions/next/_SUCCESS")["model_version"] == "v0001"
    corrected = make_batch("2026-02-11", 1000, seed=21)  # the vendor re-sends complete files
    _upload(s3, data, "outage", corrected)
    ex.settle()
    manifest = _json(s3, predictions, "predictions/outage/_SUCCESS")
    assert manifest["model_version"] == "v0001" and manifest["rows"] == 1000
    assert not manifest["gate"]["trips"]

    refreshed = ex.invoke(fn["train"], {"force": True, "reason": "refresh", "actor": "al"})
    assert refreshed["status"] == "promoted", refreshed
    opened = ex.invoke(
        fn["breaker"], {"action": "open", "reason": "vendor reports bad scores", "actor": "al"}
    )
    assert opened["state"]["state"] == "OPEN" and "retrain requested" in opened["effects"]
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"
    _upload(s3, data, "waiting", make_batch("2026-02-13", 1000, seed=22))
    ex.settle()
    assert _keys(s3, data, "held/waiting/") == [
        "held/waiting/bookings.csv",
        "held/waiting/held.json",
        "held/waiting/hotels.csv",
    ]
    assert not _keys(s3, predictions, "predictions/waiting/") and not _keys(
        s3, predictions, "probation/waiting/"
    )

    rollback = {"action": "rollback", "reason": "back to the known good model", "actor": "al"}
    rolled = ex.invoke(fn["breaker"], rollback)
    assert rolled["effects"][0] == f"champion {refreshed['version']} -> v0001"
    assert rolled["state"]["state"] == "HALF_OPEN"
    ex.advance(timedelta(hours=5))  # the retrain asked for on opening ends: no promotion now
    for name, day in (("after", "2026-02-14"), ("later", "2026-02-15")):
        _upload(s3, data, name, make_batch(day, 1000, seed=23))
        ex.settle()
    state = _json(s3, monitoring, "breaker/state.json")
    assert state["state"] == "CLOSED" and state["probation"]["model_version"] == "v0001"
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    for batch_id in ("waiting", "after", "later"):
        manifest = _json(s3, predictions, f"predictions/{batch_id}/_SUCCESS")
        assert manifest["model_version"] == "v0001" and manifest["rows"] == 1000
    moves = [
        (e["from"], e["to"], e["actor"]) for e in _lines(s3, monitoring) if e["from"] != e["to"]
    ]
    assert moves[0] == ("CLOSED", "OPEN", "al") and moves[1] == ("OPEN", "HALF_OPEN", "al")
    assert moves[-1][:2] == ("HALF_OPEN", "CLOSED")
