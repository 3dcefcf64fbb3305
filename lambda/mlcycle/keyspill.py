"""Join-key hashes, and records keyed by them spilled to local disk in hash partitions.

Whole-file work on keys (the duplicate check, sorting an attribute source by key) would
otherwise hold 8-24 bytes a row in memory for the whole file: 45 MB per million rows. Spilled
records go to one of `PARTITIONS` files by the top bits of their hash; read back one
partition at a time, each sorted by hash, memory is bounded by one partition (1/64 of the
file) and the partitions come out in global hash order.
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
        self.folder = tempfile.mkdtemp(prefix="keyspill-", dir=directory or spill_dir())
        self.count = 0

    def path(self, partition: int) -> str:
        return os.path.join(self.folder, f"{partition:03d}.bin")

    def add(self, records: np.ndarray) -> None:
        if not len(records):
            return
        # uint8: numpy sorts 8-bit keys by radix, 30 times faster than intp
        part = (records["hash"] >> np.uint64(64 - PARTITION_BITS)).astype(np.uint8)
        order = np.argsort(part, kind="stable")  # stable: rows stay in file order in a partition
        ordered = records[order]
        bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
        for p in np.flatnonzero(np.diff(bounds)):
            with open(self.path(int(p)), "ab") as f:
                ordered[bounds[p] : bounds[p + 1]].tofile(f)
        self.count += len(records)

    def add_rows(self, hashes: np.ndarray, first_row: int) -> None:
        """Key hashes of consecutive rows starting at row index `first_row`."""
        records = np.empty(len(hashes), dtype=ROWS)
        records["hash"] = hashes
        records["row"] = np.arange(first_row, first_row + len(hashes), dtype=np.uint64)
        self.add(records)

    def paths(self) -> list[str]:
        """The partition files there are, in partition (hash) order."""
        return [self.path(p) for p in range(PARTITIONS) if os.path.exists(self.path(p))]

    def sorted_partitions(self) -> Iterator[np.ndarray]:
        """Each partition's records sorted by hash (ties in the order they were added), once:
        a partition's file is removed as it is read, so the disk holds the file's keys once."""
        for path in self.paths():
            records = np.fromfile(path, dtype=self.dtype)
            os.remove(path)
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
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> KeySpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
