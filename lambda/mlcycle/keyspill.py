"""Join-key hashes, and records keyed by them spilled to local disk in hash partitions.

Whole-file work on keys (the duplicate check, sorting an attribute source by key) would
otherwise hold 8-24 bytes a row in memory for the whole file: 45 MB per million rows. Spilled
records go to one of `PARTITIONS` files by the top bits of their hash; read back one
partition at a time, each sorted by hash, memory is bounded by one partition (1/64 of the
file) and the partitions come out in global hash order.

Records are held in memory until they pass `HELD_BYTES`: a small file never touches the disk.
Measured, the 64 appends per chunk were a third of a 30-day demo's CPU time, most of it
opening files, when training re-checks its window's daily batches of 2,000 rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

PARTITION_BITS = 6
PARTITIONS = 1 << PARTITION_BITS
ROWS = np.dtype([("hash", "<u8"), ("row", "<u8")])
HELD_BYTES = 8 << 20  # half a million ROWS records: a bound like one partition of 30M rows


def key_hashes(keys: ArrayLike) -> np.ndarray:
    """64-bit hashes of join keys: 8 bytes a row instead of a Python string per row.

    A collision between two distinct keys (about 3e-6 for 10M keys) would be reported
    as a duplicate key by the unique rule, never joined silently.

    Strings are hashed as they are: the same values as pandas' default, which first builds
    a categorical of the keys (a hash table over unique keys: three times slower). Anything
    else (numbers, missing values) keeps that default, whose hashes differ for them.
    """
    values = np.asarray(keys, dtype=object)
    strings = pd.api.types.infer_dtype(values, skipna=False) == "string"
    return pd.util.hash_array(values, categorize=not strings)


def spill_dir() -> str:
    """Where spills go: Lambda's ephemeral storage is /tmp (sized in Terraform)."""
    return os.environ.get("MLCYCLE_SPILL_DIR") or tempfile.gettempdir()


class KeySpill:
    """Structured records with a uint64 `hash` field, partitioned on disk by hash."""

    def __init__(self, dtype: np.dtype = ROWS, directory: str | None = None):
        self.dtype = np.dtype(dtype)
        self.directory = directory
        self._folder = ""
        self._held: list[np.ndarray] = []
        self._held_bytes = 0
        self.count = 0

    @property
    def folder(self) -> str:
        """The spill's own folder, made when first needed (callers may keep files there)."""
        if not self._folder:
            self._folder = tempfile.mkdtemp(prefix="keyspill-", dir=self.directory or spill_dir())
        return self._folder

    def path(self, partition: int) -> str:
        return os.path.join(self.folder, f"{partition:03d}.bin")

    def add(self, records: np.ndarray) -> None:
        if not len(records):
            return
        # a copy: the caller may reuse its array, as the disk would not care
        self._held.append(np.array(records, dtype=self.dtype))
        self._held_bytes += records.nbytes
        self.count += len(records)
        if self._held_bytes >= HELD_BYTES:
            self._spill()

    def _spill(self) -> None:
        for p, part in _by_partition(self._take_held()):
            with open(self.path(p), "ab") as f:
                part.tofile(f)

    def _take_held(self) -> np.ndarray:
        held = np.concatenate(self._held) if self._held else np.empty(0, dtype=self.dtype)
        self._held, self._held_bytes = [], 0
        return held

    def add_rows(self, hashes: np.ndarray, first_row: int) -> None:
        """Key hashes of consecutive rows starting at row index `first_row`."""
        records = np.empty(len(hashes), dtype=ROWS)
        records["hash"] = hashes
        records["row"] = np.arange(first_row, first_row + len(hashes), dtype=np.uint64)
        self.add(records)

    def paths(self) -> list[str]:
        """The partition files, in partition (hash) order, with every record added in them."""
        self._spill()
        return [self.path(p) for p in range(PARTITIONS) if os.path.exists(self.path(p))]

    def _partitions(self) -> Iterator[np.ndarray]:
        """Each partition's records in the order they were added, in partition order, once;
        records never spilled come as one array, in the order they were added.

        A partition is a range of hashes, so sorting those records at once gives the order of
        sorting them partition by partition: one sort instead of 64 small ones (5 s of a
        30-day demo's training, which checks 2,000-row files by the hundred)."""
        if not self._folder:
            held = self._take_held()
            if len(held):
                yield held
            return
        for path in self.paths():
            records = np.fromfile(path, dtype=self.dtype)
            os.remove(path)  # the disk holds the file's keys once
            yield records

    def sorted_partitions(self) -> Iterator[np.ndarray]:
        """Each partition's records sorted by hash (ties in the order they were added), once."""
        for records in self._partitions():
            # Unstable is 5x faster, and the same order where no hash repeats: nearly always.
            order = np.argsort(records["hash"])
            hashes = records["hash"][order]
            if (hashes[1:] == hashes[:-1]).any():
                order = np.argsort(records["hash"], kind="stable")
            yield records[order]

    def repeated_rows(self) -> tuple[int, list[int]]:
        """(how many rows repeat an earlier row's key, the first 20 such row indexes)."""
        count, first = 0, list[int]()
        for records in self.sorted_partitions():
            again = records["row"][1:][records["hash"][1:] == records["hash"][:-1]]
            count += len(again)
            first = sorted([*first, *(int(r) for r in np.sort(again)[:20])])[:20]
        return count, first

    def close(self) -> None:
        self._held, self._held_bytes = [], 0
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> KeySpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _by_partition(records: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """The non-empty partitions of `records`, in partition order, rows in their order."""
    # uint8: numpy sorts 8-bit keys by radix, 30 times faster than intp
    part = (records["hash"] >> np.uint64(64 - PARTITION_BITS)).astype(np.uint8)
    order = np.argsort(part, kind="stable")
    ordered = records[order]
    bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
    for p in np.flatnonzero(np.diff(bounds)):
        yield int(p), ordered[bounds[p] : bounds[p + 1]]
