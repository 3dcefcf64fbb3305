"""The window object in the monitoring bucket: read by the gate and the monitor, written by the
monitor and by an operator's accept_shift.

An unreadable window (not JSON, or not a window) must not hold every batch: it is judged as
no window at all (each version's holdout limits decide, as for a new model) and logged at
error level, and the next write sets the broken object aside under a timestamped key, so
nothing is lost, and starts a new window.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from mlcycle import storage
from mlcycle.clock import now
from mlcycle.logs import get_logger, log
from mlcycle.monitoring import window as windows
from mlcycle.objectstore import ObjectStore

logger = get_logger("mlcycle.window_store")


def _readable(store: ObjectStore, bucket: str, key: str) -> tuple[dict | None, str | None]:
    """(window or None when absent, why it is unreadable or None)."""
    try:
        doc, _ = store.get_json(bucket, key)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if doc is not None and not windows.valid(doc):
        return None, f"not a {windows.WINDOW_FORMAT} document"
    return doc, None


def read_window(store: ObjectStore, bucket: str, model_name: str) -> dict:
    key = storage.window_key(model_name)
    doc, unreadable = _readable(store, bucket, key)
    if unreadable:
        log(
            logger,
            "window unreadable: judging with each version's holdout limits",
            level=40,
            key=key,
            problem=unreadable,
        )
    return doc or windows.empty()


class _NotAWindow(Exception):
    """The window object parses but is not a window."""


def update_window(
    store: ObjectStore, bucket: str, model_name: str, change: Callable[[dict], dict]
) -> dict:
    """Write change(window) under the ETag it was read with (retried on a race); an unreadable
    window is moved aside first and the change applies to an empty one."""
    key = storage.window_key(model_name)

    def checked(doc: dict | None) -> dict:
        if doc is not None and not windows.valid(doc):
            raise _NotAWindow(f"not a {windows.WINDOW_FORMAT} document")
        return change(doc or windows.empty())

    try:
        return store.update_json(bucket, key, checked)
    except (json.JSONDecodeError, UnicodeDecodeError, _NotAWindow) as exc:
        aside = f"{key}.unreadable-{now().strftime('%Y%m%dT%H%M%S%f')}"
        store.move(bucket, key, aside)
        log(logger, "unreadable window set aside", level=40, key=key, aside=aside, problem=str(exc))
    return store.update_json(bucket, key, checked)
