"""Train Lambda: train -> evaluate -> register -> promote.

Event (all optional): {"since": "YYYY-MM-DD", "recent_batches": N, "force": true, "reason": "...",
"actor": "...", "recovery": true}. `recovery` (the breaker's retrain) skips the beat-the-champion
check, not the baseline floor. Scheduled EventBridge events and the breaker's retrain requests arrive here too.
"""
import json
import os

import boto3

from mlcycle.breaker import CLOSED, HALF_OPEN, OPEN, read_state
from mlcycle.errors import MLCycleError
from mlcycle.logs import get_logger, log
from mlcycle.training import run_training

from handlers import runtime

logger = get_logger("handlers.train")


def _breaker_state() -> str:
    return read_state(runtime.store(), runtime.buckets().monitoring)[0]["state"]


def _tell_breaker(version: str) -> None:
    """A promotion while the breaker is not CLOSED starts probation; the breaker function owns that move."""
    if _breaker_state() == CLOSED:
        return
    function = os.environ.get("BREAKER_FUNCTION_NAME")
    if not function:
        log(logger, "breaker not told of the promotion: BREAKER_FUNCTION_NAME is not set", level=30)
        return
    boto3.client("lambda").invoke(FunctionName=function, InvocationType="Event",
                                  Payload=json.dumps({"action": "model_promoted", "version": version}).encode())


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    actor = str(event.get("actor") or ("schedule" if event.get("source") == "aws.events" else "invoke"))
    cfg = runtime.config()
    breaker = _breaker_state() if actor == "schedule" else CLOSED
    if breaker == HALF_OPEN:
        # A routine run promoting another version mid-probation would change the model under test.
        log(logger, "scheduled training deferred: breaker is HALF_OPEN")
        return {"status": "deferred", "reason": "breaker is HALF_OPEN: probation decides"}
    if breaker == OPEN:
        # The breaker's own retrain did not pass the gate: try again, with newer labels.
        event = {**event, **cfg.retrain_payload, "recovery": True}
    try:
        summary = run_training(cfg, runtime.plugin(), runtime.store(), runtime.buckets(),
                               config_path=runtime.model_dir() / "model_config.yml",
                               since=event.get("since"), recent_batches=event.get("recent_batches"),
                               force=bool(event.get("force")), reason=str(event.get("reason", "")), actor=actor,
                               recovery=bool(event.get("recovery")))
    except MLCycleError as exc:
        log(logger, "training refused; champion untouched", level=40, error=str(exc))
        return runtime.jsonable(runtime.rejected(exc))
    if summary["status"] == "promoted":
        _tell_breaker(summary["version"])
    return runtime.jsonable(summary)
