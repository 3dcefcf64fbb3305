"""Monitor Lambda: after each published batch, when labels arrive, and on its schedule.

Events: S3 notifications for `predictions/<id>/_SUCCESS`, `probation/<id>/_SUCCESS` and
`labels/<id>.csv`; a scheduled event (every batch missing a report or newer labels);
or {"batch_id": "..."}. A probation batch's verdict goes to the breaker function.
"""
import json
import os
import urllib.parse

import boto3

from mlcycle import storage
from mlcycle.logs import bound, get_logger, log
from mlcycle.monitoring.batch import batches_needing_a_report, monitor_batch

from handlers import runtime

logger = get_logger("handlers.monitor")


def _batch_of(key: str) -> str | None:
    parts = key.split("/")
    if len(parts) == 3 and parts[0] in ("predictions", "probation") and parts[2] == "_SUCCESS":
        return parts[1]
    if len(parts) == 2 and parts[0] == "labels" and parts[1].endswith(".csv"):
        return parts[1][: -len(".csv")]
    return None


def batch_ids(event: dict) -> list[str]:
    if event.get("Records"):
        keys = [urllib.parse.unquote_plus(r.get("s3", {}).get("object", {}).get("key", "")) for r in event["Records"]]
        return list(dict.fromkeys(b for b in map(_batch_of, keys) if b and storage.BATCH_ID.match(b)))
    if event.get("batch_id"):
        return [storage.check_batch_id(str(event["batch_id"]))]
    return batches_needing_a_report(runtime.store(), runtime.buckets())


def _report_probation(result: dict) -> None:
    function = os.environ.get("BREAKER_FUNCTION_NAME")
    if not function:
        log(logger, "probation verdict not sent: BREAKER_FUNCTION_NAME is not set", level=30)
        return
    payload = {"action": "probation_report", "batch_id": result["batch_id"], "healthy": result["healthy"],
               "breaches": result["breaches"], "model_version": result["model_version"]}
    boto3.client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode())


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    cfg, cloudwatch = runtime.config(), boto3.client("cloudwatch")
    results = []
    sweep = not event.get("Records") and not event.get("batch_id")
    for batch_id in batch_ids(event):
        with bound(batch_id=batch_id):
            try:
                result = monitor_batch(cfg, runtime.store(), runtime.buckets(), batch_id, cloudwatch)
            except Exception as exc:  # noqa: BLE001 - a sweep reports a broken batch and goes on with the rest
                if not sweep:
                    raise
                log(logger, "batch could not be monitored", level=40, error=f"{type(exc).__name__}: {exc}")
                results.append({"status": "error", "batch_id": batch_id, "error": f"{type(exc).__name__}: {exc}"})
                continue
            log(logger, "batch monitored", **{k: v for k, v in result.items() if k != "batch_id"})
            if result.get("probation"):
                _report_probation(result)
            results.append(result)
    return runtime.jsonable({"monitored": len(results), "results": results})
