"""Emergency thresholds from model_config.yml `monitoring.alarms`.

One reading for Terraform and the monitor.

Terraform turns them into CloudWatch alarms; the monitor applies the same ones to a
probation batch, because the breaker needs a verdict per batch rather than an alarm's
state change. Accepted forms:

    alarms:                                # 1. <metric>_min / <metric>_max: threshold
      join_coverage_min: 0.8               #    min: breach when below, max: when above
    alarms:                                # 2. metric -> settings
      PredictionDrift: {threshold: 0.2, comparison: ">", evaluation_periods: 2}
    alarms:                                # 3. a list
      - {metric: RealisedAccuracy, threshold: 0.5, comparison: "<"}

Metric names may be snake_case or CamelCase; the published names (the table in
metrics.py) are matched case- and underscore-insensitively (max_psi -> MaxPSI). A known
metric given without a suffix or comparison alarms in the table's direction.
"""

from __future__ import annotations

import operator
from typing import Any

from mlcycle.errors import ConfigError

from .metrics import BY_NAME

_BY_FOLDED = {name.lower(): name for name in BY_NAME}
COMPARISONS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}
DIRECTION_COMPARISON = {"min": "LessThanThreshold", "max": "GreaterThanThreshold"}
_BREACHED = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
SETTINGS = ("statistic", "period", "evaluation_periods", "datapoints_to_alarm", "description")


def metric_name(key: str) -> str:
    """join_coverage / JoinCoverage / max_psi -> JoinCoverage / JoinCoverage / MaxPSI."""
    folded = key.replace("_", "").replace("-", "").lower()
    if folded in _BY_FOLDED:
        return _BY_FOLDED[folded]
    return "".join(part[:1].upper() + part[1:] for part in key.replace("-", "_").split("_"))


def _comparison(value: str) -> str:
    if value in COMPARISONS.values():
        return value
    if value in COMPARISONS:
        return COMPARISONS[value]
    raise ConfigError(
        f"comparison {value!r}: use one of {sorted(COMPARISONS)} or a CloudWatch operator name"
    )


def _entry(key: str, value: object, where: str) -> tuple[str, dict]:
    direction = None
    base = key
    for suffix in ("_min", "_max"):
        if key.lower().endswith(suffix):
            base, direction = key[: -len(suffix)], suffix[1:]
    metric = metric_name(base)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if direction is None:
            raise ConfigError(
                f"{where}: {key}: a bare threshold needs a _min or _max suffix "
                "(or use a mapping with 'comparison')"
            )
        return metric, {"threshold": float(value), "direction": direction}
    if isinstance(value, dict):
        if "threshold" not in value:
            raise ConfigError(f"{where}: {key}: 'threshold' is missing")
        entry: dict[str, Any] = {"threshold": float(value["threshold"])}
        if direction:
            entry["direction"] = direction
        if value.get("comparison") or value.get("comparison_operator"):
            entry["comparison_operator"] = _comparison(
                str(value.get("comparison") or value.get("comparison_operator"))
            )
        entry.update({k: value[k] for k in SETTINGS if k in value})
        if "direction" not in entry and "comparison_operator" not in entry:
            if metric not in BY_NAME:
                raise ConfigError(
                    f"{where}: {key}: say 'comparison' for a metric the platform does not publish"
                )
            entry["direction"] = BY_NAME[metric].direction
        return metric, entry
    raise ConfigError(f"{where}: {key}: expected a number or a mapping, got {value!r}")


def parse_alarms(alarms: object, where: str = "monitoring.alarms") -> dict[str, dict]:
    """{MetricName: {threshold, direction | comparison_operator, ...}}.

    {} when nothing is configured.
    """
    if not alarms:
        return {}
    if isinstance(alarms, dict):
        items = list(alarms.items())
    elif isinstance(alarms, list):
        items = []
        for item in alarms:
            if not isinstance(item, dict) or "metric" not in item:
                raise ConfigError(f"{where}: every list item needs 'metric' (got {item!r})")
            items.append((str(item["metric"]), {k: v for k, v in item.items() if k != "metric"}))
    else:
        raise ConfigError(f"{where}: expected a mapping or a list")
    result: dict = {}
    for key, value in items:
        metric, entry = _entry(str(key), value, where)
        if metric in result:
            raise ConfigError(f"{where}: {metric} is configured twice")
        result[metric] = entry
    return result


def comparison_of(entry: dict) -> str:
    return entry.get("comparison_operator") or DIRECTION_COMPARISON[entry["direction"]]


def alarm_settings(alarms: object, where: str = "monitoring.alarms") -> dict[str, dict]:
    """{MetricName: entry with its CloudWatch comparison_operator}.

    What Terraform and the demo read.
    """
    return {
        metric: {**entry, "comparison_operator": comparison_of(entry)}
        for metric, entry in parse_alarms(alarms, where).items()
    }


def breaches(metrics: dict[str, float], alarms: dict[str, dict]) -> list[dict]:
    """The configured thresholds these metrics cross; a metric that is absent never breaches."""
    found = []
    for metric, entry in alarms.items():
        if metric in metrics and _BREACHED[comparison_of(entry)](
            metrics[metric], entry["threshold"]
        ):
            found.append(
                {
                    "metric": metric,
                    "value": metrics[metric],
                    "threshold": entry["threshold"],
                    "comparison": comparison_of(entry),
                }
            )
    return found
