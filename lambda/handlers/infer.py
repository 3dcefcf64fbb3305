"""Infer Lambda: an S3 upload under incoming/, the hourly rescan, {"batch_id": "..."},
{"action": "rescan"}, the breaker's {"action": "score_held", "probation": bool}, or one shard
of a large batch, {"action": "score_shard", ...}, sent by this function itself."""

from typing import Any

from handlers import runtime
from mlcycle.events import parse_infer_event
from mlcycle.inference import handle
from mlcycle.sharding import parse_shard_event, score_shard


def handler(event: Any, context: Any) -> dict:
    shard = parse_shard_event(event)
    if shard is not None:
        return runtime.jsonable(
            score_shard(
                runtime.config(),
                runtime.plugin(),
                runtime.store(),
                runtime.buckets(),
                shard.batch_id,
                shard.plan,
                shard.shard,
            )
        )
    request = parse_infer_event(event)
    return runtime.jsonable(
        handle(runtime.config(), runtime.plugin(), runtime.store(), runtime.buckets(), request)
    )
