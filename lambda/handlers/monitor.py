"""Monitor Lambda: after each published batch, when labels arrive, and on its schedule.

Events: S3 notifications for `predictions/<id>/_SUCCESS`, `probation/<id>/_SUCCESS` and
`labels/<id>.csv`; a scheduled event (every batch missing a report or newer labels);
or {"batch_id": "..."}. A probation batch's verdict goes to the breaker function.
"""

from typing import Any

import boto3

from handlers import runtime
from mlcycle.events import parse_monitor_event
from mlcycle.monitor import handle


def handler(event: Any, context: Any) -> dict:
    request = parse_monitor_event(event)
    return runtime.jsonable(
        handle(
            runtime.config(),
            runtime.store(),
            runtime.buckets(),
            request,
            boto3.client("cloudwatch"),
        )
    )
