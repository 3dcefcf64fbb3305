"""Attribute sources held as a compact index (sorted key hashes, strings as categoricals),
and the LEFT join that looks the target's rows up in them."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from mlcycle import storage
from mlcycle.attribute_files import DiskAttributes
from mlcycle.config import ModelConfig
from mlcycle.keyspill import key_hashes
from mlcycle.objectstore import ObjectStore
from mlcycle.sources import SourceSummary, open_source


def memory_rows() -> int:
    """Rows of an attribute source held in memory; a longer one is joined from local disk.

    Held, a row costs its key hash and a pointer or number per column (16 bytes for hotels:
    32 MB at the default), and about as much again while the chunks are concatenated: the
    key strings themselves are dropped as each chunk is read."""
    return int(os.environ.get("MLCYCLE_ATTRIBUTE_MEMORY_ROWS", "2000000"))


@dataclass
class Attributes:
    """An attribute source held compactly for lookups: sorted key hashes, strings as categoricals.

    The hotels file can be as long as the bookings file (one row per booked hotel); kept
    as Python strings, 10M rows would need over a gigabyte.
    """

    name: str
    hashes: np.ndarray
    columns: dict[str, np.ndarray | pd.Categorical]

    def lookup(
        self, wanted: np.ndarray, index: pd.Index
    ) -> tuple[dict[str, pd.Series], np.ndarray]:
        """The columns for each wanted key hash (missing where unmatched) and the matches."""
        n = len(self.hashes)
        if not n:
            empty = {c: pd.Series(np.nan, index=index, dtype=object) for c in self.columns}
            return empty, np.zeros(len(wanted), dtype=bool)
        positions = np.minimum(np.searchsorted(self.hashes, wanted), n - 1)
        matched = self.hashes[positions] == wanted
        looked_up = {
            col: _looked_up(values, positions, matched, index)
            for col, values in self.columns.items()
        }
        return looked_up, matched

    def close(self) -> None:
        """Nothing to give back: the index is in memory (see DiskAttributes)."""


def _compact_chunk(series: pd.Series) -> np.ndarray | pd.Categorical:
    # Each CSV cell parses to its own Python string: 10M country codes would be ~500 MB
    # as objects, ~10 MB as categorical codes.
    return pd.Categorical(series) if series.dtype == object else series.to_numpy()


def _concat(parts: list) -> np.ndarray | pd.Categorical:
    if parts and isinstance(parts[0], pd.Categorical):
        return union_categoricals(parts)
    return np.concatenate(parts) if parts else np.array([])


def _in_memory(
    name: str, chunks: list[tuple[pd.DataFrame, np.ndarray]], join_key: str
) -> Attributes:
    column_parts: dict[str, list[np.ndarray | pd.Categorical]] = {}
    for frame, _ in chunks:
        for col in frame.columns.drop(join_key, errors="ignore"):
            column_parts.setdefault(col, []).append(_compact_chunk(frame[col]))
    hash_parts = [hashes for _, hashes in chunks]
    hashes = np.concatenate(hash_parts) if hash_parts else np.array([], dtype=np.uint64)
    order = np.argsort(hashes, kind="stable")
    columns = {}
    for col, parts in column_parts.items():
        values = _concat(parts)
        columns[col] = (
            pd.Categorical.from_codes(values.codes[order], values.categories)
            if isinstance(values, pd.Categorical)
            else values[order]
        )
    return Attributes(name, hashes[order], columns)


def attributes_from_frames(name: str, frames: Iterable[pd.DataFrame], join_key: str) -> Attributes:
    return _in_memory(name, [(f, key_hashes(f[join_key])) for f in frames], join_key)


def index_attributes(name: str, frame: pd.DataFrame, join_key: str) -> Attributes:
    return attributes_from_frames(name, [frame], join_key)


def _indexed(
    name: str, chunks: Iterator[tuple[pd.DataFrame, np.ndarray]], join_key: str
) -> Attributes | DiskAttributes:
    """In memory while the source is short; past memory_rows() rows, on local disk."""
    held: list[tuple[pd.DataFrame, np.ndarray]] = []
    rows = 0
    for frame, hashes in chunks:
        # the key's hashes stand for its strings, a Python object a row
        values = frame.drop(columns=join_key)
        compact = values.assign(**{c: _compact_chunk(values[c]) for c in values.columns})
        held.append((compact, hashes))
        rows += len(frame)
        if rows > memory_rows():
            return DiskAttributes(name, itertools.chain(held, chunks), join_key)
    return _in_memory(name, held, join_key)


def read_attributes(
    store: ObjectStore, bucket: str, prefix: str, cfg: ModelConfig
) -> tuple[list[Attributes | DiskAttributes], list[SourceSummary]]:
    """Every attribute source of a batch under `prefix`, held compactly for the join."""
    readers = [
        open_source(store, bucket, storage.source_key(prefix, s.name), s, cfg)
        for s in cfg.attribute_sources
    ]
    attributes = [
        _indexed(r.spec.name, ((c.frame, c.hashes(cfg.join_key)) for c in r), cfg.join_key)
        for r in readers
    ]
    return attributes, [r.summary for r in readers]


def _looked_up(
    values: np.ndarray | pd.Categorical, positions: np.ndarray, matched: np.ndarray, index: pd.Index
) -> pd.Series:
    if isinstance(values, pd.Categorical):
        codes = np.where(matched, values.codes[positions], -1)
        # object dtype, as in training: the plug-in sees the same types whichever path
        # built the frame
        return pd.Series(pd.Categorical.from_codes(codes, values.categories), index=index).astype(
            object
        )
    return pd.Series(values[positions], index=index).where(matched)


def join(
    base: pd.DataFrame,
    attributes: Sequence[Attributes | DiskAttributes],
    join_key: str,
    hashes: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """LEFT join from the target's source: every base row survives; coverage says how many matched.

    Lookups are binary searches in the sorted key hashes: no merge, no hash table over
    the attribute rows, and the base rows keep their order, which the output relies on.
    `hashes` are the base's join-key hashes when the reader has them already.
    """
    extra, coverage = {}, {}
    wanted = key_hashes(base[join_key]) if hashes is None else hashes
    for attr in attributes:
        columns, matched = attr.lookup(wanted, base.index)
        coverage[attr.name] = float(matched.mean()) if len(base) else 0.0
        extra.update(columns)
    return base.assign(**extra), coverage
