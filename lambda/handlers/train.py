"""Train Lambda: train -> evaluate -> register -> promote.

Event (all optional): {"since": "YYYY-MM-DD", "force": true, "reason": "...", "actor": "..."}.
Scheduled EventBridge events and the breaker's retrain requests arrive here too.
"""
from mlcycle.errors import MLCycleError
from mlcycle.logs import get_logger, log
from mlcycle.training import run_training

from handlers import runtime

logger = get_logger("handlers.train")


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    actor = str(event.get("actor") or ("schedule" if event.get("source") == "aws.events" else "invoke"))
    cfg = runtime.config()
    try:
        summary = run_training(cfg, runtime.plugin(), runtime.store(), runtime.buckets(),
                               config_path=runtime.model_dir() / "model_config.yml",
                               since=event.get("since"), force=bool(event.get("force")),
                               reason=str(event.get("reason", "")), actor=actor)
    except MLCycleError as exc:
        log(logger, "training refused; champion untouched", level=40, error=str(exc))
        return runtime.rejected(exc)
    return runtime.jsonable(summary)
