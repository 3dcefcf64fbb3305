"""Sources read under the contract, kept by a warm function between its runs.

Lambda keeps a warm execution environment's module state between invocations. Training reads
every labelled batch in its window on every run, and parsing those files under the contract
was most of its reading: 31 of 46 s of CPU in a 30-day demo, for the same files day after day.
A kept source is asked for again with a conditional GET (If-None-Match: its ETag), so S3 is
still asked every time: a replaced, deleted or (pinned) no longer recorded object is never
served from memory; only an object that is byte for byte the one parsed skips the parse.

What the contract makes of a file depends on nothing but its bytes, the source's spec and the
join key, which key an entry with the object and its pin. Entries are dropped least recently
used first beyond a share of the function's memory; callers get their own copy.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd

from mlcycle.config import ModelConfig, SourceSpec
from mlcycle.objectstore import ObjectStore
from mlcycle.sources import source_reader

# A share of the function's memory: training holds its window, the fit and this at once.
MEMORY_SHARE = 1 / 8
DEFAULT_MEMORY_MB = 2048  # outside Lambda (tests, scripts)


@dataclass(frozen=True)
class _Entry:
    etag: str
    frame: pd.DataFrame
    notes: tuple[str, ...]
    size: int


def _budget() -> int:
    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or DEFAULT_MEMORY_MB)
    return int(memory_mb * 2**20 * MEMORY_SHARE)


class ReadCache:
    def __init__(self, budget_bytes: int | None = None):
        self.budget = _budget() if budget_bytes is None else budget_bytes
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()  # training reads batches in threads
        self.used = 0

    def read(
        self, store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
    ) -> tuple[pd.DataFrame, list[str]]:
        """The whole source checked under the contract, and the reader's notes."""
        pin = store.pins.get((bucket, key)) or {}
        slot = (bucket, key, pin.get("version_id") or pin.get("etag"), spec, cfg.join_key)
        with self._lock:
            kept = self._entries.get(slot)
        body, etag = store.open_unless(bucket, key, kept.etag if kept else None)
        if body is None and kept is not None:
            with self._lock:
                if slot in self._entries:
                    self._entries.move_to_end(slot)
            return kept.frame.copy(), list(kept.notes)
        reader = source_reader(body, bucket, key, spec, cfg)
        frame = reader.read_all()
        self._keep(slot, _Entry(etag, frame, tuple(reader.summary.notes), _size(frame)))
        return frame.copy(), list(reader.summary.notes)

    def _keep(self, slot: tuple, entry: _Entry) -> None:
        with self._lock:
            old = self._entries.pop(slot, None)
            self.used -= old.size if old else 0
            if entry.size > self.budget:
                return
            self._entries[slot] = entry
            self.used += entry.size
            while self.used > self.budget:
                _, dropped = self._entries.popitem(last=False)
                self.used -= dropped.size


def _size(frame: pd.DataFrame) -> int:
    return int(frame.memory_usage(deep=True, index=True).sum())


SOURCES = ReadCache()
