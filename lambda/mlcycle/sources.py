"""Read a source under the data contract: chunk by chunk, so a batch of any size is read in
bounded memory; rules that span the whole file (empty file, duplicate keys, an all-empty
column) are enforced across chunks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import pandas as pd

from mlcycle.config import ModelConfig, SourceSpec
from mlcycle.contract import CheckedFrame, check_frame, check_header, read_dtypes, utc_note
from mlcycle.errors import DataContractError
from mlcycle.heap import collect
from mlcycle.keyspill import KeySpill, key_hashes
from mlcycle.objectstore import ObjectStore
from mlcycle.refusals import FIRST_DATA_LINE
from mlcycle.stream_guards import GuardedStream, check_unique_names


@dataclass
class SourceSummary:
    """What reading a whole file found, beyond the rows themselves."""

    rows: int = 0
    notes: list[str] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    utc_converted: dict[str, int] = field(default_factory=dict)


class SourceReader:
    """Iterate a CSV source as checked chunks; file-level rules fire when the file ends."""

    def __init__(
        self,
        stream: IO[bytes],
        spec: SourceSpec,
        file: str,
        join_key: str,
        chunk_rows: int = 250_000,
        first_row: int = 0,
        whole_file: bool = True,
    ):
        """`first_row`: data rows of the file before this stream's (a shard's); with
        `whole_file` False the file-level rules are left to whoever sees every shard: the
        spilled key hashes (`spills`) and per-column counts (`non_null`) stay for them."""
        self.stream, self.spec, self.file, self.join_key, self.chunk_rows = (
            stream,
            spec,
            file,
            join_key,
            chunk_rows,
        )
        self.first_row, self.whole_file = first_row, whole_file
        self.summary = SourceSummary()
        self.spills: dict[str, KeySpill] = {}
        self.non_null: dict[str, int] = {}

    def _raw_chunks(self) -> Iterator[pd.DataFrame]:
        stream = GuardedStream(self.stream, self.file)
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
                    check_unique_names(stream.head, list(chunk.columns), self.file)
                    self.summary.notes += check_header(list(chunk.columns), self.spec, self.file)
                    header_checked = True
                if len(
                    chunk
                ):  # a header-only file yields one empty chunk; the end-of-file rule reports it
                    yield chunk
            if not header_checked:  # header only: read_csv yields no chunk at all
                columns = list(reader.orig_names or [])
                check_unique_names(stream.head, columns, self.file)
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

    def __iter__(self) -> Iterator[CheckedFrame]:
        unique = [c.name for c in self.spec.columns if c.unique]
        non_null = self.non_null = {c.name: 0 for c in self.spec.columns}
        spills = self.spills = {name: KeySpill() for name in unique}
        try:
            for raw in self._raw_chunks():
                offset = self.first_row + self.summary.rows
                checked = check_frame(raw, self.spec, self.file, self.join_key, offset=offset)
                for name, spill in spills.items():
                    hashes = (
                        checked.hashes(name)
                        if name == self.join_key
                        else key_hashes(checked.frame[name])
                    )
                    spill.add_rows(hashes, offset)
                for name in non_null:
                    if name == self.join_key:  # its rule has refused missing keys
                        non_null[name] += len(checked.frame)
                    elif name in checked.frame.columns:
                        non_null[name] += int(checked.frame[name].notna().sum())
                for rule, count in checked.violations.items():
                    self.summary.violations[rule] = self.summary.violations.get(rule, 0) + count
                for name, count in checked.utc_converted.items():
                    self.summary.utc_converted[name] = (
                        self.summary.utc_converted.get(name, 0) + count
                    )
                self.summary.rows += len(checked.frame)
                yield checked
                del checked, raw
                collect()
            if not self.whole_file:
                return
            check_file(self.file, self.summary.rows, non_null, spills)
        finally:
            if self.whole_file:
                for spill in spills.values():
                    spill.close()
        self.summary.notes += [
            utc_note(self.file, name, count) for name, count in self.summary.utc_converted.items()
        ]

    def read_all(self) -> pd.DataFrame:
        frames = [c.frame for c in self]
        return pd.concat(frames, ignore_index=True)


def check_file(file: str, rows: int, non_null: dict[str, int], spills: dict[str, KeySpill]) -> None:
    """The rules only the whole file can answer: rows at all, no all-empty column, no key
    given twice."""
    if rows == 0:
        raise DataContractError(
            file, None, "has data rows", "header only: the file has no data rows"
        )
    for name, count in non_null.items():
        if count == 0:
            raise DataContractError(
                file, name, "not all missing", "every value in the column is empty"
            )
    for name, spill in spills.items():
        check_unique(spill, file, name)


def check_unique(spill: KeySpill, file: str, column: str) -> None:
    """Refuse a key seen twice in the whole file, naming the lines of the repeats."""
    count, rows = spill.repeated_rows()
    if count:
        raise DataContractError(
            file,
            column,
            "unique",
            f"{count} duplicate value(s)",
            [r + FIRST_DATA_LINE for r in rows],
        )


def source_reader(
    stream: IO[bytes], bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
) -> SourceReader:
    """A chunked, contract-checked reader over `stream`, the body of s3://bucket/key (errors
    name that address)."""
    return SourceReader(stream, spec, f"s3://{bucket}/{key}", cfg.join_key, cfg.chunk_rows)


def open_source(
    store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
) -> SourceReader:
    """A chunked, contract-checked reader over s3://bucket/key (errors name that address)."""
    return source_reader(store.open(bucket, key), bucket, key, spec, cfg)
