"""The monitor on real S3 + CloudWatch (moto_server).

Reports, metrics, and breaches per incident.
"""

import io
import json

import boto3
import pytest

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


@pytest.mark.parametrize(
    "incident, metric", [("source_outage", "JoinCoverage"), ("covariate_shift", "MaxPSI")]
)
def test_input_incidents_breach_their_threshold_on_the_day(incident, metric, trained, buckets, s3):
    publish(incident, make_batch("2026-01-05", 1500, seed=4, incident=incident), buckets, s3)
    result = monitor(incident)
    assert not result["healthy"] and metric in [b["metric"] for b in result["breaches"]], result


def test_concept_drift_is_invisible_until_labels_arrive(trained, buckets, s3):
    batch = make_batch("2026-01-05", 1500, seed=5, incident="concept_drift")
    publish("concept", batch, buckets, s3)
    assert monitor("concept")["healthy"]
    s3.put_object(Bucket=buckets.data, Key="labels/concept.csv", Body=_csv(batch.labels))
    result = monitor("concept")
    assert "RealisedAccuracy" in [b["metric"] for b in result["breaches"]], result
