"""Evaluate CloudWatch metric alarms the way CloudWatch does, on the executor's clock.

moto stores alarms and metric data but never evaluates them. Each call to
`AlarmEvaluator.evaluate` closes one evaluation period per alarm:

* the period's datapoint is the alarm's statistic over the datapoints *received since the
  previous evaluation*. The handlers stamp metrics with the wall clock while the executor's
  clock is virtual, so wall-clock windows of `Period` seconds would be meaningless. Where the
  caller hands over the PutMetricData requests moto's recorder saw since the previous
  evaluation (`recorded`), the statistic is taken over their datapoints, in the order they
  came. Otherwise the evaluator queries [previous query end, now) in wall time (moto filters
  start <= t < end on whole seconds, so consecutive windows neither overlap nor leave gaps),
  after waiting for the current wall-clock second to end, so a datapoint put just before the
  call is in: the SDK sends whole seconds, and a window closed early would leave out a
  datapoint put later in the same second. A datapoint given an explicit timestamp older than
  the previous query is not seen.
* the alarm keeps its last `EvaluationPeriods` period values; it is in ALARM when at least
  `DatapointsToAlarm` of them breach, else OK. Missing periods follow TreatMissingData:
  notBreaching (good), breaching (bad), ignore (state unchanged), missing (INSUFFICIENT_DATA
  when all are missing, else evaluated on the present ones).
* an alarm sees the datapoints put with exactly its dimensions, in any order, as in
  CloudWatch: a [ModelName, Rule, ModelVersion] datapoint never counts for a [ModelName, Rule]
  alarm. They are read with GetMetricData (moto's GetMetricStatistics matches a subset). moto
  compares dimension lists after a sort whose comparison does not order them, so a query
  finds the datapoints put in some orders of its dimensions only: the evaluator sends one
  query per group of orders moto sorts alike (its own Dimension class tells), so every
  datapoint is found exactly once.
* one GetMetricData call reads the period of every alarm (up to 500 queries per call).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.cloudwatch.models import Dimension

COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
MAX_QUERIES = 500  # per GetMetricData call
MAX_DATUMS = 1000  # per PutMetricData call
MAX_DIMENSIONS = 4  # 24 orders: more is not a shape this stack's alarms have
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


def _dimension_set(dimensions: list[dict]) -> frozenset[tuple[str, str]]:
    return frozenset((d["Name"], d["Value"]) for d in dimensions)


class _Samples:
    """Count, sum, minimum and maximum of datapoints in any of PutMetricData's forms."""

    def __init__(self) -> None:
        self.count, self.sum = 0.0, 0.0
        self.low, self.high = math.inf, -math.inf

    def _take(self, count: float, total: float, low: float, high: float) -> None:
        self.count, self.sum = self.count + count, self.sum + total
        self.low, self.high = min(self.low, low), max(self.high, high)

    def add(self, datum: dict) -> None:
        if "StatisticValues" in datum:
            s = datum["StatisticValues"]
            self._take(s["SampleCount"], s["Sum"], s["Minimum"], s["Maximum"])
        elif "Values" in datum:
            counts = datum.get("Counts") or [1.0] * len(datum["Values"])
            for value, count in zip(datum["Values"], counts, strict=True):
                self._take(count, value * count, value, value)
        elif "Value" in datum:
            self._take(1.0, datum["Value"], datum["Value"], datum["Value"])

    def statistic(self, stat: str) -> float | None:
        if not self.count:
            return None
        return {
            "Maximum": self.high,
            "Minimum": self.low,
            "Sum": self.sum,
            "SampleCount": self.count,
            "Average": self.sum / self.count,
        }[stat]


def _numbers(datum: dict) -> list:
    return [
        *([datum["Value"]] if "Value" in datum else []),
        *datum.get("Values", []),
        *datum.get("Counts", []),
        *(datum.get("StatisticValues") or {}).values(),
    ]


def _accepted(request: dict) -> bool:
    """Whether CloudWatch stores the call: it refuses a whole call of more than 1,000 datums
    or with a value that is not a finite number (the recording holds refused calls too)."""
    data = request.get("MetricData") or []
    return 0 < len(data) <= MAX_DATUMS and all(
        isinstance(n, int | float) and not isinstance(n, bool) and math.isfinite(n)
        for datum in data
        for n in _numbers(datum)
    )


def recorded_values(alarms: list[dict], recorded: list[dict]) -> dict[str, float | None]:
    """Each alarm's statistic over the datapoints of the recorded PutMetricData requests
    (their JSON bodies) CloudWatch would have stored: its namespace, metric name and exactly
    its dimensions, and its unit when it names one."""
    by_metric: dict[tuple, list[dict]] = {}
    for request in (r for r in recorded if _accepted(r)):
        for datum in request.get("MetricData", []):
            metric = (
                request.get("Namespace"),
                datum.get("MetricName"),
                _dimension_set(datum.get("Dimensions", [])),
            )
            by_metric.setdefault(metric, []).append(datum)
    result: dict[str, float | None] = {}
    for alarm in alarms:
        stat = alarm.get("Statistic")
        if stat not in ("Maximum", "Minimum", "Sum", "SampleCount", "Average"):
            raise ValueError(
                f"alarm {alarm['AlarmName']}: extended statistics and metric math are not "
                "supported locally"
            )
        metric = (
            alarm["Namespace"],
            alarm["MetricName"],
            _dimension_set(alarm.get("Dimensions", [])),
        )
        samples = _Samples()
        for datum in by_metric.get(metric, []):
            if alarm.get("Unit") in (None, datum.get("Unit", "None")):
                samples.add(datum)
        result[alarm["AlarmName"]] = samples.statistic(stat)
    return result


def _orders(dimensions: list[dict]) -> list[list[dict]]:
    """One order of the dimensions per group of orders moto matches alike."""
    groups: dict[tuple, list[dict]] = {}
    for order in itertools.permutations(dimensions):
        moto_sorted = sorted(Dimension(d["Name"], d["Value"]) for d in order)
        groups.setdefault(tuple((d.name, d.value) for d in moto_sorted), list(order))
    return list(groups.values())


class AlarmEvaluator:
    def __init__(self, cloudwatch, started_wall: datetime | None = None):
        self.cloudwatch = cloudwatch
        self.started = (started_wall or datetime.now(UTC)).replace(microsecond=0)
        # Where each alarm's next period starts: alarms evaluated on their own Period (the
        # live local cloud) each have their own window.
        self.window_start: dict[str, datetime] = {}
        self.history: dict[str, deque] = {}

    def _window_end(self, last_put: float | None) -> datetime:
        """The end of the period being closed: a whole second (the SDK sends whole seconds),
        with every datum put so far before it. When the last put (`last_put`, epoch seconds,
        None: unknown) was in an earlier second, that is this second's start; otherwise the
        current second is let end (half a second on average, 35 s of a demo's 58 periods)."""
        now = time.time()
        if last_put is not None and int(now) > last_put:
            return datetime.fromtimestamp(int(now), UTC)
        time.sleep(1.0 - (now % 1.0) + 0.01)
        return datetime.fromtimestamp(int(time.time()), UTC)

    def _period_values(
        self, alarms: list[dict], start: datetime, end: datetime
    ) -> dict[str, float | None]:
        """Each alarm's statistic over [start, end), by alarm name."""
        seconds = max(60, int((end - start).total_seconds()) + 60)
        period = ((seconds + 59) // 60) * 60
        queries: list[dict] = []
        layout: list[tuple[dict, list[str], list[list[str]]]] = []  # alarm, stats, ids per order
        for alarm in alarms:
            stat = alarm.get("Statistic")
            dimensions = alarm.get("Dimensions", [])
            if not stat or len(dimensions) > MAX_DIMENSIONS:
                raise ValueError(
                    f"alarm {alarm['AlarmName']}: extended statistics, metric math and more "
                    f"than {MAX_DIMENSIONS} dimensions are not supported locally"
                )
            wanted = ["Sum", "SampleCount"] if stat == "Average" else [stat]
            orders = []
            for order in _orders(dimensions):
                ids = [f"q{len(queries) + i}" for i in range(len(wanted))]
                metric = {
                    "Namespace": alarm["Namespace"],
                    "MetricName": alarm["MetricName"],
                    "Dimensions": order,
                }
                queries += [
                    {"Id": i, "MetricStat": {"Metric": metric, "Period": period, "Stat": s}}
                    for i, s in zip(ids, wanted, strict=True)
                ]
                orders.append(ids)
            layout.append((alarm, wanted, orders))
        found: dict[str, list[float]] = {}
        for first in range(0, len(queries), MAX_QUERIES):
            response = self.cloudwatch.get_metric_data(
                MetricDataQueries=queries[first : first + MAX_QUERIES], StartTime=start, EndTime=end
            )
            found.update({r["Id"]: r.get("Values", []) for r in response["MetricDataResults"]})
        result: dict[str, float | None] = {}
        for alarm, wanted, orders in layout:
            values = {
                s: [v for ids in orders for v in found.get(ids[k], [])]
                for k, s in enumerate(wanted)
            }
            result[alarm["AlarmName"]] = _combine(alarm["Statistic"], values)
        return result

    def metric_alarms(self) -> list[dict]:
        """Every metric alarm as DescribeAlarms lists it."""
        return [
            a
            for page in self.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmTypes=["MetricAlarm"]
            )
            for a in page.get("MetricAlarms", [])
        ]

    def evaluate(
        self,
        query: bool = True,
        names: set[str] | None = None,
        last_put: float | None = None,
        alarms: list[dict] | None = None,
        recorded: list[dict] | None = None,
    ) -> list[Transition]:
        """Close one evaluation period for every metric alarm (or the alarms in `names`);
        return the state changes.

        query=False: nothing can have been put since the previous evaluation (the caller
        knows no handler ran), so every alarm gets a missing datapoint without a query.
        `last_put`: when metric data was last put, if the caller knows (see _window_end).
        `alarms`: metric_alarms() as the caller last read it, states included.
        `recorded`: every PutMetricData request body since the previous evaluation, if the
        caller has them all: the period is taken from them, without a query or a wait.
        """
        # By name: moto lists alarms in creation order, which Terraform's parallel apply
        # varies; CloudWatch evaluates each independently, so any fixed order is faithful.
        alarms = sorted(
            (
                a
                for a in (self.metric_alarms() if alarms is None else alarms)
                if names is None or a["AlarmName"] in names
            ),
            key=lambda a: a["AlarmName"],
        )
        starts = {
            a["AlarmName"]: self.window_start.get(a["AlarmName"], self.started) for a in alarms
        }
        values: dict[str, float | None] = {}
        if query and recorded is not None:
            values = recorded_values(alarms, recorded)
            # A query after this one (the alarms in `names`) starts after what was counted.
            after = datetime.fromtimestamp(int(time.time()) + 1, UTC)
            self.window_start.update({a["AlarmName"]: after for a in alarms})
        elif query:
            end = self._window_end(last_put)
            for start in sorted(set(starts.values())):
                group = [a for a in alarms if starts[a["AlarmName"]] == start]
                if end > start:
                    values.update(self._period_values(group, start, end))
                for alarm in group:
                    self.window_start[alarm["AlarmName"]] = max(start, end)
        transitions = []
        for alarm in alarms:
            transition = self._update(alarm, values.get(alarm["AlarmName"]))
            if transition:
                transitions.append(transition)
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
