"""Infer Lambda: S3 upload under incoming/, hourly rescan, or {"batch_id": "..."}."""
from mlcycle.dispatch import handle_event
from mlcycle.logs import get_logger

from handlers import runtime

logger = get_logger("handlers.infer")


def handler(event, context):
    summary = handle_event(runtime.config(), runtime.plugin(), runtime.store(), runtime.buckets(),
                           event if isinstance(event, dict) else {})
    return runtime.jsonable(summary)
