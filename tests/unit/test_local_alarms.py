"""The local alarm evaluator on moto's in-process CloudWatch: an alarm sees the datapoints put
with exactly its dimensions, whatever their order, and nothing with more."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from local_aws.alarms import AlarmEvaluator

REGION = "eu-west-1"
NAMESPACE = "MLCycle/booking_status"


@pytest.fixture
def cloudwatch(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def _dimensions(*pairs: tuple[str, str]) -> list[dict]:
    return [{"Name": name, "Value": value} for name, value in pairs]


def _alarm(cloudwatch, name: str, dimensions: list[dict], statistic: str, threshold: float):
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=NAMESPACE,
        MetricName="RuleVerdict",
        Dimensions=dimensions,
        Statistic=statistic,
        Period=300,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=threshold,
        TreatMissingData="notBreaching",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="created")


def _put(cloudwatch, value: float, *pairs: tuple[str, str]) -> None:
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {"MetricName": "RuleVerdict", "Value": value, "Dimensions": _dimensions(*pairs)}
        ],
    )


def _evaluate(cloudwatch, evaluator) -> dict[str, tuple[str, float | None]]:
    """{alarm: (new state, period value)} of the transitions, applied as the executor does."""
    changes = {}
    for change in evaluator.evaluate():
        cloudwatch.set_alarm_state(
            AlarmName=change.alarm["AlarmName"], StateValue=change.new_state, StateReason="test"
        )
        changes[change.alarm["AlarmName"]] = (change.new_state, change.value)
    return changes


@pytest.mark.parametrize("model", ["booking_status", "Booking"])  # moto sorts these differently
def test_a_two_dimension_alarm_sees_exactly_its_dimensions_in_any_order(cloudwatch, model):
    model_dim, rule_dim = ("ModelName", model), ("Rule", "JoinCoverage")
    # Terraform sends a map's dimensions in no fixed order: the alarm's differs from the puts'.
    _alarm(cloudwatch, "trip", _dimensions(rule_dim, model_dim), "Maximum", 2)
    _alarm(cloudwatch, "count", _dimensions(model_dim, rule_dim), "SampleCount", 99)
    evaluator = AlarmEvaluator(cloudwatch)

    _put(cloudwatch, 2, model_dim, rule_dim)
    _put(cloudwatch, 0, rule_dim, model_dim)
    assert _evaluate(cloudwatch, evaluator) == {"trip": ("ALARM", 2.0)}
    assert evaluator.history["count"][-1] == 2.0  # each datapoint counted once

    # More dimensions (the version) or another rule: not this alarm's metric.
    _put(cloudwatch, 2, model_dim, rule_dim, ("ModelVersion", "v0001"))
    _put(cloudwatch, 2, model_dim, ("Rule", "NullRate"))
    _put(cloudwatch, 2, model_dim)
    assert _evaluate(cloudwatch, evaluator) == {"trip": ("OK", None)}


def test_one_dimension_alarms_ignore_datapoints_with_more(cloudwatch):
    _alarm(cloudwatch, "model", _dimensions(("ModelName", "booking_status")), "Maximum", 1)
    evaluator = AlarmEvaluator(cloudwatch)
    _put(cloudwatch, 5, ("ModelName", "booking_status"), ("Rule", "JoinCoverage"))
    assert _evaluate(cloudwatch, evaluator) == {}
    _put(cloudwatch, 5, ("ModelName", "booking_status"))
    assert _evaluate(cloudwatch, evaluator) == {"model": ("ALARM", 5.0)}
