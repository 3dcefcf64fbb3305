"""An attribute source too large to hold in memory, kept on local disk sorted by key hash.

The hotels file can be as long as the bookings file; held in memory it cost about 17 MB per
million rows. On disk it is one file of sorted key hashes and one file per column, built in
memory bounded by one spill partition; only every `BLOCK`-th hash stays in memory (the
fences). A lookup finds each wanted key's block from the fences, reads the blocks it needs
through a read-only map, and gives the pages back after every slice of keys, so resident
memory stays bounded by a slice whatever the file's size.
"""

from __future__ import annotations

import mmap
import os
import shutil
import weakref
from collections.abc import Iterable

import numpy as np
import pandas as pd

from mlcycle.keyspill import KeySpill

BLOCK = 64  # hashes per block: 512 bytes, read together
SLICE = 4096  # keys looked up between two releases of the mapped pages
PAD = np.uint64(2**64 - 1)


class _Column:
    """A column's on-disk form: float64, datetime64[ns] as int64, or int32 category codes."""

    def __init__(self, name: str, series: pd.Series):
        self.name = name
        self.categories: dict[str, int] | None = None
        self.dtype: np.dtype
        if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
            self.dtype, self.categories = np.dtype("<i4"), {}
        elif np.issubdtype(series.dtype, np.datetime64):
            self.dtype = np.dtype("<M8[ns]")
        else:
            self.dtype = np.dtype("<f8")

    def to_json(self) -> dict:
        categories = None if self.categories is None else list(self.categories)
        return {"name": self.name, "dtype": self.dtype.str, "categories": categories}

    @classmethod
    def from_json(cls, doc: dict) -> _Column:
        column = cls.__new__(cls)
        column.name, column.dtype = doc["name"], np.dtype(doc["dtype"])
        column.categories = (
            None if doc["categories"] is None else {c: i for i, c in enumerate(doc["categories"])}
        )
        return column

    def encode(self, series: pd.Series) -> np.ndarray:
        if self.categories is None:
            return series.to_numpy(dtype=self.dtype)
        codes, uniques = pd.factorize(series)
        known = np.array([self.categories.setdefault(u, len(self.categories)) for u in uniques])
        return np.where(codes < 0, -1, known[codes] if len(known) else -1).astype(self.dtype)

    def decode(self, values: np.ndarray, matched: np.ndarray, index: pd.Index) -> pd.Series:
        if self.categories is not None:
            codes = np.where(matched, values, -1)
            labels = pd.Index(list(self.categories), dtype=object)
            # object dtype, as in training: the plug-in sees the same types whichever path
            # built the frame
            return pd.Series(pd.Categorical.from_codes(codes, labels), index=index).astype(object)
        return pd.Series(values, index=index).where(matched)


class DiskAttributes:
    """Sorted key hashes and columns in files under a temporary folder; see the module doc."""

    def __init__(self, name: str, frames: Iterable[tuple[pd.DataFrame, np.ndarray]], key: str):
        self.name, self.rows = name, 0
        self.folder = ""
        columns: list[_Column] = []
        spill: KeySpill | None = None
        try:
            for frame, hashes in frames:
                if spill is None:  # the frames held before the source went to disk lack the key
                    columns = [
                        _Column(c, frame[c]) for c in frame.columns.drop(key, errors="ignore")
                    ]
                    dtype = [("hash", "<u8")] + [(f"c{i}", c.dtype) for i, c in enumerate(columns)]
                    spill = KeySpill(np.dtype(dtype))
                records = np.empty(len(frame), dtype=spill.dtype)
                records["hash"] = hashes
                for i, column in enumerate(columns):
                    records[f"c{i}"] = column.encode(frame[column.name])
                spill.add(records)
            self.columns = columns
            self.folder = spill.folder if spill else ""
            fences = self._write(spill) if spill else np.array([], dtype=np.uint64)
            if spill:
                fences.tofile(self.path("fences"))
        except BaseException:
            if spill:
                spill.close()
            raise
        self._attach(fences)

    def _attach(self, fences: np.ndarray) -> None:
        self.fences = fences
        # a reader that never calls close() (the monitor) still leaves no files behind
        weakref.finalize(self, shutil.rmtree, self.folder, True)
        self._maps: list[mmap.mmap] = []
        self._hashes, self._values = self._open()

    def describe(self) -> dict:
        """What `attached` needs beside the files: a built index shared with other invocations."""
        return {
            "name": self.name,
            "rows": self.rows,
            "columns": [c.to_json() for c in self.columns],
        }

    def files(self) -> list[str]:
        return ["hashes", "fences", *(f"c{i}" for i in range(len(self.columns)))]

    def path(self, file: str) -> str:
        return os.path.join(self.folder, f"{file}.sorted")

    @classmethod
    def attached(cls, doc: dict, folder: str) -> DiskAttributes:
        """An index `describe`d elsewhere whose files() are in `folder` (taken over: removed
        with the index)."""
        index = cls.__new__(cls)
        index.name, index.rows, index.folder = doc["name"], doc["rows"], folder
        index.columns = [_Column.from_json(c) for c in doc["columns"]]
        index._attach(np.fromfile(index.path("fences"), dtype=np.uint64))
        return index

    def _write(self, spill: KeySpill) -> np.ndarray:
        """The sorted files from the spill's partitions (in hash order); the fences."""
        fences = []
        with open(self.path("hashes"), "wb") as out:
            outs = [open(self.path(f"c{i}"), "wb") for i in range(len(self.columns))]
            try:
                for records in spill.sorted_partitions():
                    # a copy: a strided view would keep the whole partition alive
                    fences.append(records["hash"][(-self.rows) % BLOCK :: BLOCK].copy())
                    records["hash"].tofile(out)
                    for i, f in enumerate(outs):
                        records[f"c{i}"].tofile(f)
                    self.rows += len(records)
                np.full((-self.rows) % BLOCK, PAD, dtype=np.uint64).tofile(out)
            finally:
                for f in outs:
                    f.close()
        return np.concatenate(fences)

    def _map(self, name: str, dtype: np.dtype) -> np.ndarray:
        if not os.path.getsize(self.path(name)):
            return np.zeros(0, dtype=dtype)
        with open(self.path(name), "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._maps.append(mapped)
        return np.frombuffer(mapped, dtype=dtype)

    def _open(self) -> tuple[np.ndarray, list[np.ndarray]]:
        if not self.rows:
            return np.zeros((0, BLOCK), dtype=np.uint64), []
        hashes = self._map("hashes", np.dtype("<u8")).reshape(-1, BLOCK)
        values = [self._map(f"c{i}", c.dtype) for i, c in enumerate(self.columns)]
        return hashes, values

    def _release(self) -> None:
        for mapped in self._maps:
            mapped.madvise(mmap.MADV_DONTNEED)

    def lookup(
        self, wanted: np.ndarray, index: pd.Index
    ) -> tuple[dict[str, pd.Series], np.ndarray]:
        """The columns for each wanted key hash (missing where unmatched) and the matches."""
        n = len(wanted)
        matched = np.zeros(n, dtype=bool)
        found = [np.zeros(n, dtype=c.dtype) for c in self.columns]
        if self.rows and n:
            order = np.argsort(wanted)  # equal keys find the same row: any order of them does
            keys = wanted[order]
            blocks = np.maximum(np.searchsorted(self.fences, keys, side="right") - 1, 0)
            for start in range(0, n, SLICE):
                part = slice(start, start + SLICE)
                used = np.unique(blocks[part])
                gathered = self._hashes[used].ravel()
                at = np.minimum(np.searchsorted(gathered, keys[part]), len(gathered) - 1)
                where = used[at // BLOCK] * BLOCK + at % BLOCK
                hit = (gathered[at] == keys[part]) & (where < self.rows)
                rows = order[part]
                matched[rows] = hit
                for values, out in zip(self._values, found, strict=True):
                    out[rows[hit]] = values[where[hit]]
                self._release()
        columns = {
            c.name: c.decode(out, matched, index)
            for c, out in zip(self.columns, found, strict=True)
        }
        return columns, matched

    def close(self) -> None:
        self._hashes, self._values = np.zeros((0, BLOCK), dtype=np.uint64), []
        for mapped in self._maps:
            try:
                mapped.close()
            except BufferError:  # a caller still holds a view: the map goes with it
                pass
        self._maps = []
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)
