"""Train Lambda: train -> evaluate -> register -> promote.

Events: an EventBridge schedule (daily training; while the breaker is open it becomes a
recovery run, while a model is on probation it waits), or a manual payload, every field
optional: {"since": "YYYY-MM-DD", "recent_batches": N, "force": true, "reason": "...",
"actor": "...", "recovery": true, "window": "full"}. Every run reads the training sources and
the labelled batches in the configured history window (`training.window_days`,
`training.window_rows`); `"window": "full"` reads every labelled batch. `recovery` (the
breaker's retrain) trains on every integrity-clean row of that window with the newest labelled
batches weighted, and the challenger, the champion and the previous champion meet on the
newest labels: the best that beats the champion takes over (the previous one: a rollback),
else the champion stays.
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
