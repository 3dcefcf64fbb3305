"""The monitor on real S3 + CloudWatch (moto_server).

Reports, metrics, and breaches per incident.
"""

import io
import json

import boto3

from data.generate import make_batch
from tests.integration.helpers import upload_batch


def _csv(frame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue().encode()


def publish(batch_id, batch, buckets, s3):
    from handlers import infer

    upload_batch(
        s3, buckets.data, batch_id, {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    )
    assert infer.handler({"batch_id": batch_id}, None)["results"][0]["status"] == "published"


def monitor(batch_id):
    from handlers import monitor

    [result] = monitor.handler({"batch_id": batch_id}, None)["results"]
    return result


def test_clean_batch_report_and_metrics_and_then_labels(trained, buckets, s3):
    batch = make_batch("2026-01-05", 1500, seed=3)
    publish("clean-1", batch, buckets, s3)
    result = monitor("clean-1")
    assert result["status"] == "monitored" and result["healthy"], result["breaches"]
    assert result["labels"] is False and "RealisedAccuracy" not in result["metrics"]
    report = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="reports/clean-1.json")["Body"].read()
    )
    assert report["quality"]["row_count"] == 1500 and report["model_version"] == "v0001"
    assert 0.9 < report["quality"]["join_coverage"] <= 1.0

    cloudwatch = boto3.client("cloudwatch")
    got = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "rows",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "MLCycle/booking_status",
                        "MetricName": "RowCount",
                        "Dimensions": [{"Name": "ModelName", "Value": "booking_status"}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=report_time(report, -3600),
        EndTime=report_time(report, 3600),
    )
    assert 1500.0 in got["MetricDataResults"][0]["Values"]

    from handlers import monitor as monitor_handler

    s3.put_object(Bucket=buckets.data, Key="labels/clean-1.csv", Body=_csv(batch.labels))
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "s3": {"bucket": {"name": buckets.data}, "object": {"key": "labels/clean-1.csv"}},
            }
        ]
    }
    [labelled] = monitor_handler.handler(event, None)["results"]
    assert labelled["labels"] is True and labelled["metrics"]["LabelCoverage"] == 1.0
    assert labelled["metrics"]["RealisedAccuracy"] > 0.5 and labelled["healthy"]


def report_time(report, offset_s):
    import datetime as dt

    return dt.datetime.fromisoformat(report["monitored_at"]) + dt.timedelta(seconds=offset_s)


def manifest(s3, buckets, batch_id):
    body = s3.get_object(Bucket=buckets.predictions, Key=f"predictions/{batch_id}/_SUCCESS")
    return json.loads(body["Body"].read())


def test_an_integrity_breach_is_withheld_before_publication(trained, buckets, s3, breaker_calls):
    from handlers import infer

    batch = make_batch("2026-01-05", 1500, seed=4, incident="source_outage")
    files = {"bookings": _csv(batch.bookings), "hotels": _csv(batch.hotels)}
    upload_batch(s3, buckets.data, "outage", files)
    [result] = infer.handler({"batch_id": "outage"}, None)["results"]

    assert result["status"] == "held" and "JoinCoverage" in result["gate"]["trips"], result
    coverage = result["gate"]["verdicts"]["JoinCoverage"]
    assert coverage["level"] == 2 and coverage["value"] < 0.2 and coverage["z"] < -5
    [(function, payload)] = breaker_calls
    assert function == "BREAKER_FUNCTION_NAME" and payload["action"] == "gate_trip"
    assert payload["batch_id"] == "outage" and "JoinCoverage" in payload["rules"]
    listed = s3.list_objects_v2(Bucket=buckets.predictions, Prefix="predictions/outage/")
    assert listed.get("KeyCount", 0) == 0  # nothing published, nothing half-written
    note = json.loads(
        s3.get_object(Bucket=buckets.data, Key="held/outage/held.json")["Body"].read()
    )
    assert note["gate"]["trips"] == result["gate"]["trips"] and "JoinCoverage" in note["reason"]


def test_limits_are_registered_with_the_version_and_judge_gate_and_monitor_alike(
    trained, buckets, s3, breaker_calls
):
    from mlcycle.objectstore import ObjectStore
    from mlcycle.registry import ModelRegistry

    metadata = ModelRegistry(ObjectStore(s3), buckets.models, "booking_status").metadata("v0001")
    limits = metadata["limits"]  # signed with the version: metadata() verified the signature
    assert limits["reference"]["JoinCoverage/hotels"] == trained["join_coverage"]["hotels"]
    assert len(limits["calibration"]["rows"]) == len(limits["calibration"]["edges"]) + 1

    publish("clean-2", make_batch("2026-01-06", 1500, seed=3), buckets, s3)
    gate = manifest(s3, buckets, "clean-2")["gate"]["verdicts"]
    monitor("clean-2")
    report = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="reports/clean-2.json")["Body"].read()
    )
    for rule in ("JoinCoverage", "NullRate", "EstimatedAccuracy"):
        assert report["rules"]["verdicts"][rule]["value"] == gate[rule]["value"], rule
        assert report["rules"]["verdicts"][rule]["centre"] == gate[rule]["centre"], rule
    estimated = report["performance"]["estimated"]  # calibrated, with its standard error
    assert estimated["expected_accuracy"] == gate["EstimatedAccuracy"]["value"]
    assert 0 < estimated["standard_error"] < 0.05
    assert estimated["calibrated_on"]["source"] == "holdout"
    window = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="limits/booking_status/window.json")[
            "Body"
        ].read()
    )
    assert [e["batch_id"] for e in window["entries"]] == ["clean-2"]


def test_concept_drift_trips_when_labels_arrive(trained, buckets, s3, breaker_calls):
    batch = make_batch("2026-01-05", 1500, seed=5, incident="concept_drift")
    publish("concept", batch, buckets, s3)
    assert monitor("concept")["trips"] == []  # the inputs are those of a clean day
    s3.put_object(Bucket=buckets.data, Key="labels/concept.csv", Body=_csv(batch.labels))
    result = monitor("concept")
    tripped = {"RealisedAccuracy", "PositiveRateGap"} & set(result["trips"])
    assert tripped and not result["healthy"], result
    rule = sorted(tripped)[0]
    report = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="reports/concept.json")["Body"].read()
    )
    got = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "verdict",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "MLCycle/booking_status",
                        "MetricName": "RuleVerdict",
                        "Dimensions": [
                            {"Name": "ModelName", "Value": "booking_status"},
                            {"Name": "Rule", "Value": rule},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
        ],
        StartTime=report_time(report, -3600),
        EndTime=report_time(report, 3600),
    )
    assert 2.0 in got["MetricDataResults"][0]["Values"]  # what the verdict alarm watches


def test_a_cancellation_wave_trips_from_early_labels(trained, buckets, s3, breaker_calls):
    """Partial labels of the day (cancellations known so far) against five healthy batches."""
    import datetime as dt

    from data.generate import label_increment

    def publish_with_increment(batch_id, batch):
        publish(batch_id, batch, buckets, s3)
        today = manifest(s3, buckets, batch_id)["published_at"][:10]
        known = label_increment(batch, batch.day)  # what the batch's own day revealed
        key = f"labels/{batch_id}/{today}.csv"
        s3.put_object(Bucket=buckets.data, Key=key, Body=_csv(known))
        return monitor(batch_id)

    first = dt.date(2026, 1, 5)
    for i in range(5):
        day = (first + dt.timedelta(days=i)).isoformat()
        result = publish_with_increment(f"day-{i}", make_batch(day, 2000, seed=7))
        assert result["trips"] == [], result
    wave = make_batch((first + dt.timedelta(days=5)).isoformat(), 2000, 7, "concept_drift")
    result = publish_with_increment("wave", wave)
    assert "EarlyPositiveRate" in result["trips"], result
    report = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key="reports/wave.json")["Body"].read()
    )
    verdict = report["rules"]["verdicts"]["EarlyPositiveRate"]
    assert verdict["value"] > 1.3 and verdict["basis"] == "window" and verdict["z"] > 5
    assert report["labels"]["complete"] is False


def test_a_manifest_without_its_publication_time_counts_from_when_it_was_written(
    trained, buckets, s3
):
    """An older release's manifest, or one written by hand: the monitor failed on it."""
    from mlcycle import storage

    publish("undated-1", make_batch("2026-01-05", 1500, seed=4), buckets, s3)
    key = "predictions/undated-1/_SUCCESS"
    manifest = json.loads(s3.get_object(Bucket=buckets.predictions, Key=key)["Body"].read())
    del manifest["published_at"]
    s3.put_object(Bucket=buckets.predictions, Key=key, Body=json.dumps(manifest).encode())
    written = s3.head_object(Bucket=buckets.predictions, Key=key)["LastModified"]

    result = monitor("undated-1")

    assert result["status"] == "monitored", result
    window = json.loads(
        s3.get_object(Bucket=buckets.monitoring, Key=storage.window_key("booking_status"))[
            "Body"
        ].read()
    )
    [entry] = [e for e in window["entries"] if e["batch_id"] == "undated-1"]
    assert entry["published_at"] == written.isoformat()
