"""Poison isolation: an unexpected failure on one batch never stops the others.

Each failure is counted per batch and per kind (exception type and message) in the
monitoring bucket; a batch that fails the same way `inference.max_attempts` times is
quarantined with an "internal error" reason instead of being retried forever.
Infrastructure faults (S3 unreachable, throttling, 5xx) are not the batch's fault: they
are re-raised for Lambda to retry and never count.
"""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from mlcycle import storage
from mlcycle.clock import now_iso
from mlcycle.config import ModelConfig
from mlcycle.logs import get_logger, log
from mlcycle.moves import quarantine
from mlcycle.objectstore import ObjectStore, PreconditionFailed
from mlcycle.storage import Buckets

logger = get_logger("mlcycle.failures")
TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
}


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES
    return isinstance(exc, BotoCoreError | ConnectionError | TimeoutError)


def _kind(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def record(store: ObjectStore, buckets: Buckets, batch_id: str, exc: BaseException) -> int:
    """Count this failure; returns how often the batch has now failed this way."""
    key, kind = storage.failures_key(batch_id), _kind(exc)
    count = 1
    for _ in range(10):
        stored, etag = store.get_json(buckets.monitoring, key)
        doc = stored or {"batch_id": batch_id, "kinds": {}}
        count = int(doc["kinds"].get(kind, 0)) + 1
        doc["kinds"][kind] = count
        doc["updated_at"] = now_iso()
        try:
            store.put_json(buckets.monitoring, key, doc, if_match=etag, if_none_match=etag is None)
            break
        except PreconditionFailed:
            continue
    return count


def isolated(
    cfg: ModelConfig,
    store: ObjectStore,
    buckets: Buckets,
    batch_id: str,
    input_prefix: str,
    work: Callable[[], dict],
) -> dict:
    """work()'s result; an unexpected exception becomes an `error` result (counted), and the
    batch's `max_attempts`-th identical failure quarantines it."""
    try:
        result = work()
    except Exception as exc:  # noqa: BLE001 - one batch's bug must not stop the others
        if _transient(exc):
            raise
        attempts = record(store, buckets, batch_id, exc)
        log(
            logger,
            "batch failed unexpectedly",
            level=40,
            batch_id=batch_id,
            error=_kind(exc),
            attempts=attempts,
        )
        if attempts < cfg.max_attempts:
            return {
                "status": "error",
                "batch_id": batch_id,
                "error": _kind(exc),
                "attempts": attempts,
            }
        reason = {
            "file": f"s3://{buckets.data}/{input_prefix}",
            "column": None,
            "rule": "internal error",
            "detail": _kind(exc),
            "message": f"internal error {attempts} times: {_kind(exc)}",
        }
        return quarantine(
            store, buckets, batch_id, reason, stage="inference", from_prefix=input_prefix
        )
    if store.exists(buckets.monitoring, storage.failures_key(batch_id)):
        store.delete(buckets.monitoring, storage.failures_key(batch_id))
    return result
