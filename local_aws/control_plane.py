"""What the executor reads of the deployed wiring, kept until a request may have changed it.

Schedule rules and their targets, function configurations, event invoke configs and metric
alarms change only when someone writes them: Terraform, an operator, the breaker disabling a
rule. moto's recorder names the services a recorded request may have reconfigured
(`Drained.reconfigured`), so the executor forgets exactly those at each drain and reads them
again when next needed. Re-reading them before every firing, delivery and alarm period was a
seventh of the 30-day demo's requests (about 2,300 of 15,600). Without a recorder every drain
forgets everything: as fresh as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from local_aws.moto_recorder import RECONFIGURABLE


class ControlPlane:
    def __init__(self, clients: dict, metric_alarms: Callable[[], list[dict]]):
        self._events, self._lambda = clients["events"], clients["lambda"]
        self._metric_alarms = metric_alarms
        self._rules: list[dict] | None = None
        self._targets: dict[str, list[dict]] = {}
        self._functions: dict[str, dict] = {}
        self._invoke_configs: dict[str, dict] = {}
        self._alarms: list[dict] | None = None

    def forget(self, services: Iterable[str] | None = None) -> None:
        """Drop what was read of `services` (SigV4 names, as in RECONFIGURABLE); None: of
        every one."""
        services = set(RECONFIGURABLE if services is None else services)
        if "events" in services:
            self._rules, self._targets = None, {}
        if "lambda" in services:
            self._functions, self._invoke_configs = {}, {}
        if "monitoring" in services:
            self._alarms = None

    def schedule_rules(self) -> list[dict]:
        """Every rule with a schedule expression, ENABLED or not."""
        if self._rules is None:
            self._rules = [
                r
                for page in self._events.get_paginator("list_rules").paginate()
                for r in page.get("Rules", [])
                if r.get("ScheduleExpression")
            ]
        return self._rules

    def targets(self, rule_name: str) -> list[dict]:
        if rule_name not in self._targets:
            self._targets[rule_name] = self._events.list_targets_by_rule(Rule=rule_name).get(
                "Targets", []
            )
        return self._targets[rule_name]

    def function(self, name: str) -> dict | None:
        """get_function's Configuration; None for a function the emulator does not have."""
        if name not in self._functions:
            try:
                self._functions[name] = self._lambda.get_function(FunctionName=name)[
                    "Configuration"
                ]
            except self._lambda.exceptions.ResourceNotFoundException:
                return None
        return self._functions[name]

    def invoke_config(self, name: str) -> dict:
        """The function's event invoke config; {} without one (Lambda's defaults)."""
        if name not in self._invoke_configs:
            try:
                found = self._lambda.get_function_event_invoke_config(FunctionName=name)
            except self._lambda.exceptions.ResourceNotFoundException:
                found = {}
            self._invoke_configs[name] = found
        return self._invoke_configs[name]

    def metric_alarms(self) -> list[dict]:
        if self._alarms is None:
            self._alarms = self._metric_alarms()
        return self._alarms
