"""The breaker's state: one small S3 object with a revision counter, and its one reader."""

from __future__ import annotations

from mlcycle import storage
from mlcycle.storage import ObjectStore

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
# The BreakerState metric and the demo's severity: higher is further from publishing.
STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def initial_state() -> dict:
    return {
        "state": CLOSED,
        "revision": 0,
        "since": None,
        "cause": None,
        "model_version": None,
        "probation": None,
        "rejected": {},
        "tripped_at": None,
    }


def read_state(store: ObjectStore, bucket: str) -> tuple[dict, str | None]:
    """(state, etag); a breaker never written is CLOSED (etag None)."""
    doc, etag = store.get_json(bucket, storage.BREAKER_STATE_KEY)
    return (doc or initial_state()), etag


def event_log(store: ObjectStore, bucket: str, last: int | None = None) -> list[dict]:
    """The transitions in breaker/events.jsonl, oldest first (the `last` N when given)."""
    return store.read_lines(bucket, storage.BREAKER_EVENTS_KEY, last)
