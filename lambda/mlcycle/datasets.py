"""Read sources under the data contract, join them, and cut the time-based holdout.

Sources are read in chunks so a batch of any size is scored in bounded memory; rules
that span the whole file (empty file, duplicate keys, an all-empty column) are
enforced across chunks.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.types import union_categoricals

from mlcycle import storage
from mlcycle.config import ModelConfig, SourceSpec
from mlcycle.contract import CheckedFrame, check_frame, check_header, read_dtypes, utc_note
from mlcycle.errors import DataContractError
from mlcycle.objectstore import ObjectStore


@dataclass
class SourceSummary:
    """What reading a whole file found, beyond the rows themselves."""

    rows: int = 0
    notes: list[str] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    utc_converted: dict[str, int] = field(default_factory=dict)


NUL = b"\x00"
HEAD_BYTES = 64 * 1024  # kept from the start of the file: the header as written


def _first_record(head: bytes) -> tuple[list[str], int] | None:
    """The first non-blank CSV record in `head` and the line it ends on.

    The caller checks its length against the columns pandas found: a header longer than
    `head` is cut short.
    """
    reader = csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace"), newline=""))
    try:
        for record in reader:
            if len(record) > 1 or (record and record[0].strip(" \t")):  # pandas skips blanks
                return record, reader.line_num
    except csv.Error:
        return None
    return None


class _GuardedStream(io.BufferedIOBase):
    """The bytes of a source on their way to the CSV parser.

    Refuses NUL bytes (pandas' C reader ends a field at NUL: `12\x0034` would be read as
    `12`), keeps the first bytes (the header as written, before pandas renames duplicate
    names to `x.1`) and counts lines, so errors can name the line of the file. Memory stays
    one block.
    """

    def __init__(self, raw: IO[bytes], file: str):
        super().__init__()
        self._raw, self._file = raw, file
        self.head = b""
        self.block = b""  # the last block handed on ...
        self.block_start = 0  # ... its position in the file ...
        self.lines_before = 0  # ... and the newlines before it

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        self.lines_before += self.block.count(b"\n")
        self.block_start += len(self.block)
        self.block = data
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        at = data.find(NUL)
        if at >= 0:
            self._refuse_nul(at)
        return data

    read1 = read

    def line_at(self, position: int) -> int:
        """The line (1-based) of a byte position within or just before the last block."""
        return (
            self.lines_before + self.block.count(b"\n", 0, max(position - self.block_start, 0)) + 1
        )

    def _refuse_nul(self, at: int) -> None:
        position = self.block_start + at
        line = self.line_at(position)
        column = None
        header = _first_record(self.head)
        if header is not None and line > header[1]:
            # The field the NUL is in: count the fields before it on its line, when the
            # line is plain (no quotes) and within this block.
            line_start = self.block.rfind(b"\n", 0, at) + 1
            prefix = self.block[line_start:at]
            if (line_start or self.block_start == 0) and b'"' not in prefix:
                index = prefix.count(b",")
                column = header[0][index] if index < len(header[0]) else None
        raise DataContractError(
            self._file,
            column,
            "no NUL bytes",
            f"NUL byte (0x00) at byte offset {position} (text has none; UTF-16 is not UTF-8)",
            [line],
        )

    def decode_error(self, exc: UnicodeDecodeError) -> tuple[str, list[int]]:
        """Where an invalid byte is in the file, from the block being decoded."""
        byte = exc.object[exc.start]
        # The decoder sees the last block, plus at most 3 bytes of a character cut before it.
        if isinstance(exc.object, bytes) and 0 <= len(exc.object) - len(self.block) <= 3:
            position = self.block_start + len(self.block) - len(exc.object) + exc.start
            return f"invalid byte 0x{byte:02x} at byte offset {position}", [self.line_at(position)]
        return f"invalid byte 0x{byte:02x} at byte {exc.start} of a read block", []


class SourceReader:
    """Iterate a CSV source as checked chunks; file-level rules fire when the file ends."""

    def __init__(
        self,
        stream: IO[bytes],
        spec: SourceSpec,
        file: str,
        join_key: str,
        chunk_rows: int = 250_000,
    ):
        self.stream, self.spec, self.file, self.join_key, self.chunk_rows = (
            stream,
            spec,
            file,
            join_key,
            chunk_rows,
        )
        self.summary = SourceSummary()

    def _raw_chunks(self) -> Iterator[pd.DataFrame]:
        stream = _GuardedStream(self.stream, self.file)
        try:
            reader = pd.read_csv(
                stream,
                dtype=read_dtypes(self.spec),
                chunksize=self.chunk_rows,
                encoding="utf-8",
                keep_default_na=False,
                na_values=[""],
            )
            header_checked = False
            for chunk in reader:
                if not header_checked:
                    self._check_unique_names(stream.head, list(chunk.columns))
                    self.summary.notes += check_header(list(chunk.columns), self.spec, self.file)
                    header_checked = True
                if len(
                    chunk
                ):  # a header-only file yields one empty chunk; the end-of-file rule reports it
                    yield chunk
            if not header_checked:  # header only: read_csv yields no chunk at all
                columns = list(reader.orig_names or [])
                self._check_unique_names(stream.head, columns)
                check_header(columns, self.spec, self.file)
        except UnicodeDecodeError as exc:
            detail, lines = stream.decode_error(exc)
            raise DataContractError(self.file, None, "encoding UTF-8", detail, lines) from None
        except pd.errors.EmptyDataError:
            raise DataContractError(
                self.file, None, "not empty", "the file is empty (no header, no rows)"
            ) from None
        except pd.errors.ParserError as exc:
            raise DataContractError(self.file, None, "CSV format", str(exc).strip()) from None
        except (ValueError, TypeError, OverflowError) as exc:  # anything else the parser raises
            raise DataContractError(
                self.file, None, "CSV format", f"unreadable: {type(exc).__name__}: {exc}"
            ) from None

    def _check_unique_names(self, head: bytes, columns: list[str]) -> None:
        """Refuse a name given twice: pandas would rename the second copy `name.1`."""
        header = _first_record(head)
        if header is None or len(header[0]) != len(columns):
            return  # not the header pandas read (longer than HEAD_BYTES): no names to compare
        names, line = header
        seen: dict[str, int] = {}
        for position, name in enumerate(names, start=1):
            if name.strip() == "":  # unnamed columns (trailing commas) are extra, dropped
                continue
            if name in seen:
                raise DataContractError(
                    self.file,
                    name,
                    "unique column names",
                    f"'{name}' names columns {seen[name]} and {position}",
                    [line],
                )
            seen[name] = position

    def __iter__(self) -> Iterator[CheckedFrame]:
        seen_keys: dict[str, list[np.ndarray]] = {c.name: [] for c in self.spec.columns if c.unique}
        non_null = {c.name: 0 for c in self.spec.columns}
        for raw in self._raw_chunks():
            checked = check_frame(
                raw, self.spec, self.file, self.join_key, offset=self.summary.rows
            )
            for name in seen_keys:
                seen_keys[name].append(
                    pd.util.hash_pandas_object(checked.frame[name], index=False).to_numpy()
                )
            for name in non_null:
                if name in checked.frame.columns:
                    non_null[name] += int(checked.frame[name].notna().sum())
            for rule, count in checked.violations.items():
                self.summary.violations[rule] = self.summary.violations.get(rule, 0) + count
            for name, count in checked.utc_converted.items():
                self.summary.utc_converted[name] = self.summary.utc_converted.get(name, 0) + count
            self.summary.rows += len(checked.frame)
            yield checked
        self._check_file(seen_keys, non_null)
        self.summary.notes += [
            utc_note(self.file, name, count) for name, count in self.summary.utc_converted.items()
        ]

    def _check_file(self, seen_keys: dict[str, list[np.ndarray]], non_null: dict[str, int]) -> None:
        if self.summary.rows == 0:
            raise DataContractError(
                self.file, None, "has data rows", "header only: the file has no data rows"
            )
        for name, count in non_null.items():
            if count == 0:
                raise DataContractError(
                    self.file, name, "not all missing", "every value in the column is empty"
                )
        for name, parts in seen_keys.items():
            hashes = np.concatenate(parts)
            # Sorting 64-bit hashes finds duplicates with 16 bytes a row; a hash table over 10M
            # keys (Series.duplicated) needed several hundred MB more.
            order = np.argsort(hashes, kind="stable")
            ordered = hashes[order]
            repeats = order[1:][ordered[1:] == ordered[:-1]]
            if len(repeats):
                raise DataContractError(
                    self.file,
                    name,
                    "unique",
                    f"{len(repeats)} duplicate value(s)",
                    sorted(int(i) + 2 for i in repeats)[:20],
                )

    def read_all(self) -> pd.DataFrame:
        frames = [c.frame for c in self]
        return pd.concat(frames, ignore_index=True)


def open_source(
    store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
) -> SourceReader:
    """A chunked, contract-checked reader over s3://bucket/key (errors name that address)."""
    return SourceReader(
        store.open(bucket, key), spec, f"s3://{bucket}/{key}", cfg.join_key, cfg.chunk_rows
    )


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


def feature_frame(joined: pd.DataFrame, cfg: ModelConfig) -> pd.DataFrame:
    """What the plug-in sees: typed columns in config order, no join key, no target."""
    return joined[list(cfg.feature_columns)]


def time_split(
    frame: pd.DataFrame, time_column: str, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Newest rows by time_column are the holdout.

    The model is judged on the future, not a shuffle.
    """
    ordered = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
    cut = int(round(len(ordered) * (1 - holdout_fraction)))
    return ordered.iloc[:cut].reset_index(drop=True), ordered.iloc[cut:].reset_index(drop=True)
