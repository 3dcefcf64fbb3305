"""The local alarm evaluator on moto's in-process CloudWatch: an alarm sees the datapoints put
with exactly its dimensions, whatever their order, and nothing with more; recorded puts make a
period without a query or a wait."""

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


def _datum(value=None, unit=None, *pairs, **forms) -> dict:
    datum = {"MetricName": "RuleVerdict", "Dimensions": _dimensions(*pairs), **forms}
    if value is not None:
        datum["Value"] = value
    if unit:
        datum["Unit"] = unit
    return datum


MODEL, RULE = ("ModelName", "booking_status"), ("Rule", "JoinCoverage")


def test_recorded_puts_make_the_period_in_every_form_of_datapoint(cloudwatch, monkeypatch):
    for stat in ("Maximum", "Minimum", "Sum", "SampleCount", "Average"):
        _alarm(cloudwatch, stat, _dimensions(RULE, MODEL), stat, 99)
    recorded = [
        {
            "Namespace": NAMESPACE,
            "MetricData": [
                _datum(2.0, None, MODEL, RULE),
                _datum(None, None, RULE, MODEL, Values=[1.0, 4.0], Counts=[3.0, 1.0]),
                _datum(
                    None,
                    None,
                    MODEL,
                    RULE,
                    StatisticValues={"SampleCount": 2, "Sum": 1.0, "Minimum": 0.0, "Maximum": 1.0},
                ),
                # not the alarms' metric: more dimensions, another namespace below
                _datum(50.0, None, MODEL, RULE, ("ModelVersion", "v0001")),
            ],
        },
        {"Namespace": "Other", "MetricData": [_datum(60.0, None, MODEL, RULE)]},
    ]
    monkeypatch.setattr(cloudwatch, "get_metric_data", lambda **kw: pytest.fail("queried moto"))
    monkeypatch.setattr("local_aws.alarms.time.sleep", lambda s: pytest.fail("waited"))
    evaluator = AlarmEvaluator(cloudwatch)
    evaluator.evaluate(recorded=recorded)
    last = {name: h[-1] for name, h in evaluator.history.items()}
    # 1 + 3x1 + 1x4 + (2 samples summing to 1) = 7 samples, sum 2 + 3 + 4 + 1 = 10
    assert last == {
        "Maximum": 4.0,
        "Minimum": 0.0,
        "Sum": 10.0,
        "SampleCount": 7.0,
        "Average": 10.0 / 7.0,
    }
    evaluator.evaluate(recorded=[])
    assert all(h[-1] is None for h in evaluator.history.values())  # nothing put: missing


def test_a_recorded_datapoint_counts_for_an_alarm_with_a_unit_only_in_that_unit(cloudwatch):
    cloudwatch.put_metric_alarm(
        AlarmName="seconds",
        Namespace=NAMESPACE,
        MetricName="RuleVerdict",
        Dimensions=_dimensions(MODEL),
        Statistic="Maximum",
        Unit="Seconds",
        Period=300,
        EvaluationPeriods=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=1,
    )
    evaluator = AlarmEvaluator(cloudwatch)
    data = [_datum(5.0, "Count", MODEL), _datum(2.0, "Seconds", MODEL), _datum(9.0, None, MODEL)]
    evaluator.evaluate(recorded=[{"Namespace": NAMESPACE, "MetricData": data}])
    assert evaluator.history["seconds"][-1] == 2.0


def test_a_recorded_call_cloudwatch_would_refuse_counts_for_nothing(cloudwatch):
    _alarm(cloudwatch, "trip", _dimensions(MODEL, RULE), "Maximum", 2)
    evaluator = AlarmEvaluator(cloudwatch)
    good, bad = _datum(1.0, None, MODEL, RULE), _datum(float("nan"), None, MODEL, RULE)
    evaluator.evaluate(
        recorded=[
            {"Namespace": NAMESPACE, "MetricData": [_datum(5.0, None, MODEL, RULE), bad]},
            {"Namespace": NAMESPACE, "MetricData": [_datum(6.0, None, MODEL, RULE)] * 1001},
            {"Namespace": NAMESPACE, "MetricData": [good]},
        ]
    )
    assert evaluator.history["trip"][-1] == 1.0
