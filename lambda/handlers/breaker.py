"""Breaker Lambda: CloudWatch alarms (via SNS), operators, and the cycle's own reports.

Events:
  SNS alarm notification                      -> ALARM opens the breaker
  {"action": "open"|"close", "reason": "..."}  -> an operator forces it
  {"action": "status"}                        -> current state and the last events
  {"action": "model_promoted", "version": v}  -> from train: OPEN -> HALF_OPEN
  {"action": "probation_report", "batch_id": b, "healthy": bool, "breaches": [...]} -> from monitor
"""
import json

from mlcycle import storage
from mlcycle.breaker import CLOSED, OPEN, Breaker
from mlcycle.breaker_actions import AwsBreakerActions
from mlcycle.logs import get_logger, log
from mlcycle.registry import ModelRegistry

from handlers import runtime

logger = get_logger("handlers.breaker")


def _breaker() -> Breaker:
    cfg = runtime.config()
    actions = AwsBreakerActions(runtime.store(), runtime.buckets(), cfg.name, cfg.retrain_payload)
    return Breaker(runtime.store(), runtime.buckets().monitoring, actions, cfg.probation_batches)


def _alarm(record: dict) -> tuple[dict, str] | None:
    message = json.loads(record["Sns"]["Message"])
    if message.get("NewStateValue") != "ALARM":
        log(logger, "alarm notification ignored", alarm=message.get("AlarmName"), state=message.get("NewStateValue"))
        return None
    trigger = message.get("Trigger") or {}
    cause = {"reason": "alarm", "alarm": message.get("AlarmName"), "state_reason": message.get("NewStateReason"),
             "metric": trigger.get("MetricName"), "threshold": trigger.get("Threshold"),
             "comparison": trigger.get("ComparisonOperator")}
    return cause, f"alarm:{message.get('AlarmName')}"


def _status() -> dict:
    state, _ = _breaker().read()
    body = runtime.store().get_bytes(runtime.buckets().monitoring, storage.BREAKER_EVENTS_KEY) \
        if runtime.store().exists(runtime.buckets().monitoring, storage.BREAKER_EVENTS_KEY) else b""
    events = [json.loads(line) for line in body.decode().splitlines()[-10:]]
    return {"state": state, "recent_events": events}


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    breaker = _breaker()
    if event.get("Records"):
        results = []
        for record in event["Records"]:
            alarm = _alarm(record)
            if alarm:
                champion = ModelRegistry(runtime.store(), runtime.buckets().models, runtime.config().name).champion()
                results.append(breaker.trip(alarm[0], actor=alarm[1], model_version=champion))
        return runtime.jsonable({"results": [{"changed": r.changed, "state": r.state["state"], "effects": r.effects}
                                             for r in results]})
    action = event.get("action")
    actor = str(event.get("actor") or "operator")
    if action == "status":
        return runtime.jsonable(_status())
    if action in ("open", "close"):
        champion = ModelRegistry(runtime.store(), runtime.buckets().models, runtime.config().name).champion()
        result = breaker.force(OPEN if action == "open" else CLOSED, str(event.get("reason", "")), actor, champion)
    elif action == "model_promoted":
        result = breaker.model_promoted(str(event["version"]), actor=str(event.get("actor") or "training"))
    elif action == "probation_report":
        result = breaker.probation_report(str(event["batch_id"]), bool(event["healthy"]), event.get("breaches") or [],
                                          actor=str(event.get("actor") or "monitor"), model_version=event.get("model_version"))
    else:
        raise ValueError(f"unknown breaker event: expected an SNS alarm or action open|close|status|model_promoted|"
                         f"probation_report, got {sorted(event)}")
    return runtime.jsonable({"changed": result.changed, "state": result.state, "event": result.event,
                             "effects": result.effects})
