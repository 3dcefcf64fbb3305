"""Evaluate CloudWatch metric alarms the way CloudWatch does, on the executor's clock.

moto stores alarms and metric data but never evaluates them. Each call to
`AlarmEvaluator.evaluate` closes one evaluation period per alarm:

* the period's datapoint is the alarm's statistic over the datapoints *received since the
  previous evaluation*. The handlers stamp metrics with the wall clock while the executor's
  clock is virtual, so wall-clock windows of `Period` seconds would be meaningless; instead
  the evaluator queries [previous query end, now) in wall time (moto filters start <= t < end
  on whole seconds, so consecutive windows neither overlap nor leave gaps). It first waits
  for the current wall-clock second to end, so a datapoint put just before the call is in.
  A datapoint given an explicit timestamp older than the previous evaluation is not seen.
* the alarm keeps its last `EvaluationPeriods` period values; it is in ALARM when at least
  `DatapointsToAlarm` of them breach, else OK. Missing periods follow TreatMissingData:
  notBreaching (good), breaching (bad), ignore (state unchanged), missing (INSUFFICIENT_DATA
  when all are missing, else evaluated on the present ones).
* datapoints are read with GetMetricData, which matches the alarm's dimensions exactly as
  CloudWatch does (moto's GetMetricStatistics matches a subset: a [ModelName, ModelVersion]
  datapoint would count for a [ModelName] alarm).
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
SYMBOL = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


@dataclass
class Transition:
    alarm: dict
    old_state: str
    new_state: str
    reason: str
    value: float | None


def _combine(stat: str, values: dict[str, list[float]]) -> float | None:
    """One value for the window from the per-period values of each statistic queried."""
    if not values.get(stat if stat != "Average" else "Sum"):
        return None
    if stat == "Maximum":
        return max(values[stat])
    if stat == "Minimum":
        return min(values[stat])
    if stat in ("Sum", "SampleCount"):
        return sum(values[stat])
    if stat == "Average":
        count = sum(values["SampleCount"])
        return sum(values["Sum"]) / count if count else None
    raise ValueError(f"statistic {stat} is not supported by the local alarm evaluator")


class AlarmEvaluator:
    def __init__(self, cloudwatch, started_wall: datetime | None = None):
        self.cloudwatch = cloudwatch
        self.window_start = (started_wall or datetime.now(UTC)).replace(microsecond=0)
        self.history: dict[str, deque] = {}

    def _window_end(self) -> datetime:
        now = time.time()
        time.sleep(
            1.0 - (now % 1.0) + 0.01
        )  # let the current second end: everything put so far is before it
        return datetime.fromtimestamp(int(time.time()), UTC)

    def _period_value(self, alarm: dict, start: datetime, end: datetime) -> float | None:
        stat = alarm.get("Statistic")
        if not stat:
            raise ValueError(
                f"alarm {alarm['AlarmName']}: extended statistics / metric math "
                "are not supported locally"
            )
        wanted = ["Sum", "SampleCount"] if stat == "Average" else [stat]
        seconds = max(60, int((end - start).total_seconds()) + 60)
        period = ((seconds + 59) // 60) * 60
        metric = {
            "Namespace": alarm["Namespace"],
            "MetricName": alarm["MetricName"],
            "Dimensions": alarm.get("Dimensions", []),
        }
        response = self.cloudwatch.get_metric_data(
            MetricDataQueries=[
                {"Id": f"q{i}", "MetricStat": {"Metric": metric, "Period": period, "Stat": s}}
                for i, s in enumerate(wanted)
            ],
            StartTime=start,
            EndTime=end,
        )
        by_id = {r["Id"]: r.get("Values", []) for r in response.get("MetricDataResults", [])}
        return _combine(stat, {s: by_id.get(f"q{i}", []) for i, s in enumerate(wanted)})

    def evaluate(self, query: bool = True) -> list[Transition]:
        """Close one evaluation period for every metric alarm; return the state changes.

        query=False: nothing can have been put since the previous evaluation (the caller
        knows no handler ran), so every alarm gets a missing datapoint without a query.
        """
        # By name: moto lists alarms in creation order, which Terraform's parallel apply
        # varies; CloudWatch evaluates each independently, so any fixed order is faithful.
        alarms = sorted(
            (
                a
                for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
                    AlarmTypes=["MetricAlarm"]
                )
                for a in page.get("MetricAlarms", [])
            ),
            key=lambda a: a["AlarmName"],
        )
        end = self._window_end() if query else self.window_start
        transitions = []
        for alarm in alarms:
            value = (
                self._period_value(alarm, self.window_start, end)
                if query and end > self.window_start
                else None
            )
            transition = self._update(alarm, value)
            if transition:
                transitions.append(transition)
        self.window_start = max(self.window_start, end)
        return transitions

    def _update(self, alarm: dict, value: float | None) -> Transition | None:
        name = alarm["AlarmName"]
        periods = int(alarm.get("EvaluationPeriods") or 1)
        needed = int(alarm.get("DatapointsToAlarm") or periods)
        history = self.history.setdefault(name, deque(maxlen=periods))
        if history.maxlen != periods:
            history = self.history[name] = deque(history, maxlen=periods)
        history.append(value)
        compare = COMPARE[alarm["ComparisonOperator"]]
        threshold = float(alarm["Threshold"])
        missing = alarm.get("TreatMissingData") or "missing"
        present = [v for v in history if v is not None]
        breaching = sum(1 for v in present if compare(v, threshold))
        if missing == "breaching":
            breaching += sum(1 for v in history if v is None)
        old = alarm.get("StateValue", "INSUFFICIENT_DATA")
        if not present and missing in ("missing", "ignore"):
            new = "INSUFFICIENT_DATA" if missing == "missing" else old
        else:
            new = "ALARM" if breaching >= needed else "OK"
        if new == old:
            return None
        shown = ", ".join(f"{v:g}" for v in present[-periods:]) or "no datapoints"
        reason = (
            f"Threshold Crossed: {breaching} out of the last {len(history)} datapoints [{shown}] "
            f"{'was' if new == 'ALARM' else 'was not'} "
            f"{SYMBOL[alarm['ComparisonOperator']]} the threshold "
            f"({threshold:g}) (minimum {needed} datapoint{'s' if needed != 1 else ''} "
            "for OK -> ALARM transition)."
        )
        return Transition(alarm, old, new, reason, value)


def reason_data(transition: Transition, at: datetime) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "queryDate": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "statistic": transition.alarm.get("Statistic"),
            "period": transition.alarm.get("Period"),
            "recentDatapoints": [] if transition.value is None else [transition.value],
            "threshold": transition.alarm.get("Threshold"),
            "evaluatedDatapoints": [],
        }
    )
