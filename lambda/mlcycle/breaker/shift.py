"""An operator accepts a lasting, benign shift as the new normal.

Without it the window (``mlcycle.monitoring.window``) keeps judging a changed but harmless
world against the old one and warns on every batch. Accepting rewrites only the window
object: batches from ``since`` on count as healthy, older ones are forgotten. The breaker's
state is not touched: accepting a shift reopens nothing and closes nothing.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.errors import MLCycleError
from mlcycle.monitoring import window as windows
from mlcycle.objectstore import ObjectStore, PreconditionFailed


def accept_shift(
    store: ObjectStore, bucket: str, model_name: str, since: str, actor: str, attempts: int = 10
) -> dict:
    """The window after the acceptance, written under the ETag it was read with (the monitor
    writes the same object; neither may lose the other's change)."""
    key = storage.window_key(model_name)
    for _ in range(attempts):
        window, etag = store.get_json(bucket, key)
        accepted = windows.accept(window or windows.empty(), since, actor)
        try:
            store.put_json(bucket, key, accepted, if_match=etag, if_none_match=etag is None)
        except PreconditionFailed:
            continue
        return accepted
    raise MLCycleError(f"{key} kept changing under us; gave up after {attempts} attempts")
