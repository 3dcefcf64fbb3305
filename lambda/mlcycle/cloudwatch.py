"""Metrics to CloudWatch: the one module that writes them (the monitor's headline metrics,
the breaker's state).

The client is passed in, so this module needs neither boto3 nor scipy at import time and
tests hand it a moto client.
Every metric is put twice (docs/CONTRACTS.md): with dimensions [ModelName], which alarms
watch because they survive a model version change, and [ModelName, ModelVersion], which
lets the dashboard tell versions apart.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

# PutMetricData accepts at most 1000 datums per call.
MAX_DATUMS_PER_CALL = 1000


def namespace(model_name: str) -> str:
    """CloudWatch namespace of a model's metrics."""
    return f"MLCycle/{model_name}"


def metric_data(
    metrics: dict[str, float], model_name: str, model_version: str, timestamp: datetime
) -> list[dict]:
    """PutMetricData datums: each metric once per dimension set, all with one timestamp.

    ``timestamp`` should be the monitoring run's time (CloudWatch refuses points older than
    two weeks, and alarms evaluate recent periods only).
    """
    dimension_sets = (
        [{"Name": "ModelName", "Value": model_name}],
        [
            {"Name": "ModelName", "Value": model_name},
            {"Name": "ModelVersion", "Value": str(model_version)},
        ],
    )
    return [
        {
            "MetricName": name,
            "Dimensions": dimensions,
            "Timestamp": timestamp,
            "Value": float(value),
            "Unit": "None",
        }
        for name, value in metrics.items()
        for dimensions in dimension_sets
    ]


def verdict_data(verdicts: dict[str, dict], model_name: str, timestamp: datetime) -> list[dict]:
    """One RuleVerdict datum per rule (0 ok, 1 warn, 2 trip), dimensions ModelName and Rule:
    what the verdict alarms watch."""
    return [
        {
            "MetricName": "RuleVerdict",
            "Dimensions": [
                {"Name": "ModelName", "Value": model_name},
                {"Name": "Rule", "Value": rule},
            ],
            "Timestamp": timestamp,
            "Value": float(verdict["level"]),
            "Unit": "None",
        }
        for rule, verdict in verdicts.items()
    ]


def put_metrics(cloudwatch_client: Any, namespace: str, metric_data: list[dict]) -> dict:
    """Send the datums in calls of at most 1000; datums with a NaN or infinite value are skipped.

    CloudWatch rejects a whole call if one value is NaN or infinite, so one undefined metric
    would otherwise silence all the others. Returns what was sent and what was skipped.
    """
    sendable = [datum for datum in metric_data if math.isfinite(datum["Value"])]
    skipped = sorted(
        {datum["MetricName"] for datum in metric_data if not math.isfinite(datum["Value"])}
    )
    for start in range(0, len(sendable), MAX_DATUMS_PER_CALL):
        cloudwatch_client.put_metric_data(
            Namespace=namespace, MetricData=sendable[start : start + MAX_DATUMS_PER_CALL]
        )
    calls = math.ceil(len(sendable) / MAX_DATUMS_PER_CALL)
    return {"sent": len(sendable), "calls": calls, "skipped": skipped}
