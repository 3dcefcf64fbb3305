"""Attribute sources held as a compact index (sorted key hashes, strings as categoricals),
and the LEFT join that looks the target's rows up in them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.types import union_categoricals

from mlcycle import storage
from mlcycle.config import ModelConfig
from mlcycle.objectstore import ObjectStore
from mlcycle.sources import SourceSummary, open_source


def key_hashes(keys: ArrayLike) -> np.ndarray:
    """64-bit hashes of join keys: 8 bytes a row instead of a Python string per row.

    A collision between two distinct keys (about 3e-6 for 10M keys) would be reported
    as a duplicate key by the unique rule, never joined silently.
    """
    return pd.util.hash_array(np.asarray(keys, dtype=object))


@dataclass
class Attributes:
    """An attribute source held compactly for lookups: sorted key hashes, strings as categoricals.

    The hotels file can be as long as the bookings file (one row per booked hotel); kept
    as Python strings, 10M rows would need over a gigabyte.
    """

    name: str
    hashes: np.ndarray
    columns: dict[str, np.ndarray | pd.Categorical]


def _compact_chunk(series: pd.Series) -> np.ndarray | pd.Categorical:
    # Each CSV cell parses to its own Python string: 10M country codes would be ~500 MB
    # as objects, ~10 MB as categorical codes.
    return pd.Categorical(series) if series.dtype == object else series.to_numpy()


def _concat(parts: list) -> np.ndarray | pd.Categorical:
    if parts and isinstance(parts[0], pd.Categorical):
        return union_categoricals(parts)
    return np.concatenate(parts) if parts else np.array([])


def attributes_from_frames(name: str, frames: Iterable[pd.DataFrame], join_key: str) -> Attributes:
    hash_parts: list[np.ndarray] = []
    column_parts: dict[str, list[np.ndarray | pd.Categorical]] = {}
    for frame in frames:
        hash_parts.append(key_hashes(frame[join_key]))
        for col in frame.columns.drop(join_key):
            column_parts.setdefault(col, []).append(_compact_chunk(frame[col]))
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


def index_attributes(name: str, frame: pd.DataFrame, join_key: str) -> Attributes:
    return attributes_from_frames(name, [frame], join_key)


def read_attributes(
    store: ObjectStore, bucket: str, prefix: str, cfg: ModelConfig
) -> tuple[list[Attributes], list[SourceSummary]]:
    """Every attribute source of a batch under `prefix`, held compactly for the join."""
    readers = [
        open_source(store, bucket, storage.source_key(prefix, s.name), s, cfg)
        for s in cfg.attribute_sources
    ]
    attributes = [
        attributes_from_frames(r.spec.name, (c.frame for c in r), cfg.join_key) for r in readers
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
    base: pd.DataFrame, attributes: list[Attributes], join_key: str
) -> tuple[pd.DataFrame, dict[str, float]]:
    """LEFT join from the target's source: every base row survives; coverage says how many matched.

    Lookups are binary searches in the sorted key hashes: no merge, no hash table over
    the attribute rows, and the base rows keep their order, which the output relies on.
    """
    extra, coverage = {}, {}
    wanted = key_hashes(base[join_key])
    for attr in attributes:
        n = len(attr.hashes)
        positions = np.minimum(np.searchsorted(attr.hashes, wanted), max(n - 1, 0))
        matched = (attr.hashes[positions] == wanted) if n else np.zeros(len(base), dtype=bool)
        coverage[attr.name] = float(matched.mean()) if len(base) else 0.0
        for col, values in attr.columns.items():
            extra[col] = (
                _looked_up(values, positions, matched, base.index)
                if n
                else pd.Series(np.nan, index=base.index, dtype=object)
            )
    return base.assign(**extra), coverage
