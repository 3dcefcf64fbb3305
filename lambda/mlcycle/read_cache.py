"""Sources read under the contract, kept by a warm function between its runs.

Lambda keeps a warm execution environment's module state between invocations. Training reads
every labelled batch in its window on every run, and parsing those files under the contract
was most of its reading: 31 of 46 s of CPU in a 30-day demo, for the same files day after day.
A kept source is asked for again with a conditional GET (If-None-Match: its ETag), so S3 is
still asked every time: a replaced, deleted or (pinned) no longer recorded object is never
served from memory; only an object that is byte for byte the one parsed skips the parse.

What the contract makes of a file depends on nothing but its bytes, the source's spec and the
join key, which key an entry with the object and its pin. So does a join of such sources
(a labelled batch's inputs and labels: 9 of training's 30 s of reading in the demo), which is
kept by the identities of what it joined and made again when one of them changed. Entries are
dropped least recently used first beyond a share of the function's memory; callers get their
own copy.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
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
    etag: str | None  # None: a join (`ReadCache.joined`)
    frame: pd.DataFrame
    notes: tuple[str, ...]
    size: int
    coverage: dict[str, float] | None = None  # a join's


@dataclass(frozen=True)
class Checked:
    """A source read under the contract, or found unchanged since: `identity` names these bytes
    read under this spec. `frame` is the cache's own, shared by every caller: derive, never
    change."""

    identity: tuple
    frame: pd.DataFrame
    notes: tuple[str, ...]


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
        found = self.checked(store, bucket, key, spec, cfg)
        return found.frame.copy(), list(found.notes)

    def checked(
        self, store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
    ) -> Checked:
        """The source as `read` finds it, not copied: for `joined`."""
        pin = store.pins.get((bucket, key)) or {}
        slot = (bucket, key, pin.get("version_id") or pin.get("etag"), spec, cfg.join_key)
        kept = self._kept(slot)
        body, etag = store.open_unless(bucket, key, kept.etag if kept else None)
        if body is None and kept is not None:
            return Checked((slot, kept.etag), kept.frame, kept.notes)
        reader = source_reader(body, bucket, key, spec, cfg)
        frame = reader.read_all()
        notes = tuple(reader.summary.notes)
        self._keep(slot, _Entry(etag, frame, notes, _size(frame)))
        return Checked((slot, etag), frame, notes)

    def joined(
        self,
        recipe: Hashable,
        parts: tuple[Checked, ...],
        join: Callable[[], tuple[pd.DataFrame, dict[str, float]]],
    ) -> tuple[pd.DataFrame, dict[str, float]]:
        """What `join` makes of `parts` (its frame and coverage), made again only when one of
        them changed; `recipe` names what `join` does with them besides."""
        slot = ("joined", recipe, tuple(part.identity for part in parts))
        kept = self._kept(slot)
        if kept is None:
            frame, coverage = join()
            kept = _Entry(None, frame, (), _size(frame), coverage)
            self._keep(slot, kept)
        return kept.frame.copy(), dict(kept.coverage or {})

    def _kept(self, slot: tuple) -> _Entry | None:
        with self._lock:
            kept = self._entries.get(slot)
            if kept is not None:
                self._entries.move_to_end(slot)
            return kept

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
