"""Publishing headline metrics to CloudWatch (moto in-process)."""

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from mlcycle.cloudwatch import metric_data, namespace, put_metrics

NOW = datetime.now(UTC).replace(microsecond=0)


class RecordingClient:
    def __init__(self):
        self.calls = []

    def put_metric_data(self, Namespace, MetricData):
        self.calls.append((Namespace, MetricData))


def test_namespace_is_per_model():
    assert namespace("HotelCancel") == "MLCycle/HotelCancel"


def test_each_metric_is_put_with_model_and_model_version_dimensions():
    data = metric_data({"RowCount": 10, "MaxPSI": 0.3}, "HotelCancel", 7, NOW)
    assert [(d["MetricName"], [x["Name"] for x in d["Dimensions"]]) for d in data] == [
        ("RowCount", ["ModelName"]),
        ("RowCount", ["ModelName", "ModelVersion"]),
        ("MaxPSI", ["ModelName"]),
        ("MaxPSI", ["ModelName", "ModelVersion"]),
    ]
    assert data[1]["Dimensions"][1]["Value"] == "7"
    assert all(d["Timestamp"] == NOW and d["Unit"] == "None" for d in data)
    assert [d["Value"] for d in data] == [10.0, 10.0, 0.3, 0.3]


def test_datums_are_sent_in_calls_of_at_most_1000_and_nan_or_inf_is_skipped():
    metrics = {f"M{i}": float(i) for i in range(1300)} | {
        "Bad": float("nan"),
        "Worse": float("inf"),
    }
    client = RecordingClient()
    result = put_metrics(client, "MLCycle/X", metric_data(metrics, "X", "1", NOW))
    assert [len(data) for _, data in client.calls] == [1000, 1000, 600]
    assert {namespace for namespace, _ in client.calls} == {"MLCycle/X"}
    assert result == {"sent": 2600, "calls": 3, "skipped": ["Bad", "Worse"]}


def test_nothing_to_send_makes_no_call():
    client = RecordingClient()
    assert put_metrics(client, "MLCycle/X", [])["calls"] == 0 and client.calls == []


@pytest.fixture
def cloudwatch(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="eu-west-1")


def test_datapoints_land_in_cloudwatch_under_both_dimension_sets(cloudwatch):
    put_metrics(
        cloudwatch,
        namespace("HotelCancel"),
        metric_data({"MaxPSI": 0.31, "RowCount": 1200.0}, "HotelCancel", "4", NOW),
    )

    listed = cloudwatch.list_metrics(Namespace="MLCycle/HotelCancel")["Metrics"]
    dimension_sets = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in listed
    }
    assert dimension_sets == {
        ("MaxPSI", (("ModelName", "HotelCancel"),)),
        ("MaxPSI", (("ModelName", "HotelCancel"), ("ModelVersion", "4"))),
        ("RowCount", (("ModelName", "HotelCancel"),)),
        ("RowCount", (("ModelName", "HotelCancel"), ("ModelVersion", "4"))),
    }
    # get_metric_data matches dimensions exactly, like CloudWatch (moto's get_metric_statistics
    # also returns points whose dimensions merely include the requested ones).
    model = {"Name": "ModelName", "Value": "HotelCancel"}
    for dimensions in ([model], [model, {"Name": "ModelVersion", "Value": "4"}]):
        metric = {
            "Namespace": "MLCycle/HotelCancel",
            "MetricName": "MaxPSI",
            "Dimensions": dimensions,
        }
        results = cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": 60, "Stat": stat}}
                for stat in ("Maximum", "SampleCount")
            ],
            StartTime=NOW - timedelta(minutes=5),
            EndTime=NOW + timedelta(minutes=5),
        )["MetricDataResults"]
        assert {r["Id"]: r["Values"] for r in results} == {"maximum": [0.31], "samplecount": [1.0]}
