"""An operator accepts a lasting, benign shift as the new normal.

Without it the window (``mlcycle.monitoring.window``) keeps judging a changed but harmless
world against the old one and warns on every batch. Accepting rewrites only the window
object: batches from ``since`` on count as healthy, older ones are forgotten. The breaker's
state is not touched: accepting a shift reopens nothing and closes nothing.
"""

from __future__ import annotations

from mlcycle import storage
from mlcycle.monitoring import window as windows
from mlcycle.objectstore import ObjectStore


def accept_shift(
    store: ObjectStore, bucket: str, model_name: str, since: str, actor: str, attempts: int = 10
) -> dict:
    """The window after the acceptance, written under the ETag it was read with (the monitor
    writes the same object; neither may lose the other's change)."""
    return store.update_json(
        bucket,
        storage.window_key(model_name),
        lambda window: windows.accept(window or windows.empty(), since, actor),
        attempts,
    )
