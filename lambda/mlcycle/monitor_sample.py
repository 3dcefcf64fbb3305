"""The rows the monitor reads of a batch too large to hold (`monitoring.sample_rows`).

A batch large enough to be sharded cannot be read whole by one monitor invocation (1M rows
took 600 MB of its 1,024). The label-free rules never needed it read: they judge the
statistics infer counted over every row (the manifest's). The report and the label-based
rules read a uniform sample instead: the rows whose join-key hash falls in the first `share`
of the hash range. The rule is a function of the key alone, so the inputs, every part of the
predictions and every labels file are filtered alike and stay aligned row by row, and each
run of the monitor (partial labels, then complete ones) sees the same rows.
"""

from __future__ import annotations

import io
from typing import IO

import numpy as np
import pandas as pd

from mlcycle.keyspill import key_hashes
from mlcycle.objectstore import ObjectStore

_SPAN = float(1 << 53)  # the top 53 bits of a hash, as a float without rounding


def sample_share(rows: int, limit: int) -> float | None:
    """The share of a batch of `rows` the monitor reads; None: all of it."""
    return limit / rows if 0 < limit < rows else None


def in_sample(keys: pd.Series, share: float | None, hashes: np.ndarray | None = None) -> np.ndarray:
    """Which rows of `keys` (their `hashes`, when known) the sample holds."""
    if share is None:
        return np.ones(len(keys), dtype=bool)
    values = key_hashes(keys) if hashes is None else hashes
    return (values >> np.uint64(11)).astype(np.float64) < share * _SPAN


def sampled_csv(
    stream: IO[bytes], share: float, key: str, chunk_rows: int, **read_options: object
) -> pd.DataFrame:
    """The rows of a CSV stream in the sample, read a chunk at a time (a header-only file is one
    empty chunk). Without the `key` column, the first chunk as it is: the caller's check of the
    columns names what is missing."""
    kept = []
    for chunk in pd.read_csv(stream, chunksize=chunk_rows, **read_options):
        if key not in chunk.columns:
            return chunk
        kept.append(chunk[in_sample(chunk[key], share)])
    return pd.concat(kept, ignore_index=True)


def read_csv_object(
    store: ObjectStore,
    bucket: str,
    key: str,
    share: float | None,
    key_column: str,
    chunk_rows: int,
    **read_options: object,
) -> pd.DataFrame:
    """A CSV object whole (`share` None), or its rows in the sample, streamed."""
    if share is None:
        return pd.read_csv(io.BytesIO(store.get_bytes(bucket, key)), **read_options)
    return sampled_csv(store.open(bucket, key), share, key_column, chunk_rows, **read_options)
