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
        non_null = {c.name: 0 for c in self.spec.columns}
        spills = {name: KeySpill() for name in unique}
        try:
            for raw in self._raw_chunks():
                checked = check_frame(
                    raw, self.spec, self.file, self.join_key, offset=self.summary.rows
                )
                for name, spill in spills.items():
                    hashes = (
                        checked.hashes(name)
                        if name == self.join_key
                        else key_hashes(checked.frame[name])
                    )
                    spill.add_rows(hashes, self.summary.rows)
                for name in non_null:
                    if name in checked.frame.columns:
                        non_null[name] += int(checked.frame[name].notna().sum())
                for rule, count in checked.violations.items():
                    self.summary.violations[rule] = self.summary.violations.get(rule, 0) + count
                for name, count in checked.utc_converted.items():
                    self.summary.utc_converted[name] = (
                        self.summary.utc_converted.get(name, 0) + count
                    )
                self.summary.rows += len(checked.frame)
                yield checked
            self._check_file(spills, non_null)
        finally:
            for spill in spills.values():
                spill.close()
        self.summary.notes += [
            utc_note(self.file, name, count) for name, count in self.summary.utc_converted.items()
        ]

    def _check_file(self, spills: dict[str, KeySpill], non_null: dict[str, int]) -> None:
        if self.summary.rows == 0:
            raise DataContractError(
                self.file, None, "has data rows", "header only: the file has no data rows"
            )
        for name, count in non_null.items():
            if count == 0:
                raise DataContractError(
                    self.file, name, "not all missing", "every value in the column is empty"
                )
        for name, spill in spills.items():
            check_unique(spill, self.file, name)

    def read_all(self) -> pd.DataFrame:
        frames = [c.frame for c in self]
        return pd.concat(frames, ignore_index=True)


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


def open_source(
    store: ObjectStore, bucket: str, key: str, spec: SourceSpec, cfg: ModelConfig
) -> SourceReader:
    """A chunked, contract-checked reader over s3://bucket/key (errors name that address)."""
    return SourceReader(
        store.open(bucket, key), spec, f"s3://{bucket}/{key}", cfg.join_key, cfg.chunk_rows
    )
