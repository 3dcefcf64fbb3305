"""Breaker Lambda: CloudWatch alarms (via SNS), operators, and the cycle's own reports.

Events:
  SNS alarm notification                      -> ALARM opens the breaker
  {"action": "open"|"close", "reason": "...", "actor": "..."}  -> an operator forces it
  {"action": "status"}                        -> current state and the last events
  {"action": "model_promoted", "version": v}  -> from train: OPEN -> HALF_OPEN
  {"action": "probation_report", "batch_id": b, "healthy": bool, "breaches": [...]} -> from monitor
"""

from typing import Any

from handlers import runtime
from mlcycle.breaker.handling import handle
from mlcycle.events import parse_breaker_event


def handler(event: Any, context: Any) -> dict:
    request = parse_breaker_event(event)
    return runtime.jsonable(handle(runtime.config(), runtime.store(), runtime.buckets(), request))
