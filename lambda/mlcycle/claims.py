"""One writer per batch output: a lease object created with If-None-Match.

S3 delivers events at least once and sometimes concurrently. The invocation that creates
the lease scores the batch; a duplicate finds it and stops. A lease outlives a crashed
owner only until it expires (longer than the function's timeout), then the next trigger
takes it over with a conditional write; the conditional `_SUCCESS` create is the last guard.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from mlcycle.clock import now
from mlcycle.objectstore import ObjectStore, PreconditionFailed

# Lambda's longest timeout is 15 minutes: a live owner never loses its lease.
LEASE_SECONDS = 16 * 60


def _acquire(store: ObjectStore, bucket: str, key: str) -> str | None:
    doc = {
        "owner": uuid.uuid4().hex,
        "expires_at": (now() + dt.timedelta(seconds=LEASE_SECONDS)).isoformat(),
    }
    try:
        return store.put_json(bucket, key, doc, if_none_match=True)
    except PreconditionFailed:
        current, etag = store.get_json(bucket, key)
    if current is not None and str(current.get("expires_at", "")) > now().isoformat():
        return None
    try:
        return store.put_json(bucket, key, doc, if_match=etag, if_none_match=etag is None)
    except PreconditionFailed:
        return None


@contextmanager
def lease(store: ObjectStore, bucket: str, key: str) -> Iterator[bool]:
    """Yield True while this invocation holds the lease, False when another one does."""
    etag = _acquire(store, bucket, key)
    try:
        yield etag is not None
    finally:
        current = store.head(bucket, key) if etag is not None else None
        if current is not None and current["etag"] == etag:  # still ours: not taken over
            store.delete(bucket, key)
