"""Infer Lambda: an S3 upload under incoming/, the hourly rescan, {"batch_id": "..."},
{"action": "rescan"}, or the breaker's {"action": "score_held", "probation": bool}."""

from typing import Any

from handlers import runtime
from mlcycle.events import parse_infer_event
from mlcycle.inference import handle


def handler(event: Any, context: Any) -> dict:
    request = parse_infer_event(event)
    return runtime.jsonable(
        handle(runtime.config(), runtime.plugin(), runtime.store(), runtime.buckets(), request)
    )
