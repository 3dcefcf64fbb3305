"""An operator accepts a lasting, benign shift as the new normal.

Without it the window (``mlcycle.monitoring.window``) keeps judging a changed but harmless
world against the old one and warns on every batch. Accepting rewrites only the window
object: batches from ``since`` on count as healthy, older ones are forgotten. The breaker's
state is not touched: accepting a shift reopens nothing and closes nothing.
"""

from __future__ import annotations

from mlcycle.monitoring import window as windows
from mlcycle.objectstore import ObjectStore
from mlcycle.window_store import update_window


def accept_shift(store: ObjectStore, bucket: str, model_name: str, since: str, actor: str) -> dict:
    """The window after the acceptance, written under the ETag it was read with (the monitor
    writes the same object; neither may lose the other's change)."""
    return update_window(
        store, bucket, model_name, lambda window: windows.accept(window, since, actor)
    )
