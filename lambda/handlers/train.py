"""Train Lambda: train -> evaluate -> register -> promote.

Events: an EventBridge schedule (daily training; while the breaker is open it becomes a
recovery run, while a model is on probation it waits), or a manual payload, every field
optional: {"since": "YYYY-MM-DD", "recent_batches": N, "force": true, "reason": "...",
"actor": "...", "recovery": true}. `recovery` (the breaker's retrain) skips the
beat-the-champion check, not the baseline floor.
"""

from typing import Any

from handlers import runtime
from mlcycle.events import parse_train_event
from mlcycle.training import handle_request


def handler(event: Any, context: Any) -> dict:
    request = parse_train_event(event)
    return runtime.jsonable(
        handle_request(
            runtime.config(),
            runtime.plugin(),
            runtime.store(),
            runtime.buckets(),
            request,
            config_path=runtime.config_path(),
        )
    )
