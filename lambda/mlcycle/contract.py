"""The data contract: what every input file must satisfy before a model sees it.

Hard rules raise DataContractError (the batch is quarantined, nothing is published);
soft rules (values outside a declared date range or length) are counted as schema
violations and monitored, because real feeds drift and stopping on them would hold
every batch for a cosmetic change.

The type rules (numbers, dates) live in column_types.py; this module holds the header,
allowed-value, join-key and day-count rules, and checks each chunk against all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlcycle.column_types import as_datetime, as_numeric
from mlcycle.config import ColumnSpec, SourceSpec
from mlcycle.errors import DataContractError
from mlcycle.keyspill import key_hashes
from mlcycle.refusals import examples, line_numbers


@dataclass
class CheckedFrame:
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)
    # column -> values that carried a UTC offset (converted to UTC, offset dropped)
    utc_converted: dict[str, int] = field(default_factory=dict)
    # the join key's hashes, computed once for the duplicate check and the join
    key_hashes: np.ndarray | None = None

    def hashes(self, join_key: str) -> np.ndarray:
        if self.key_hashes is None:
            self.key_hashes = key_hashes(self.frame[join_key])
        return self.key_hashes

    @property
    def violation_count(self) -> int:
        return sum(self.violations.values())


def read_dtypes(spec: SourceSpec) -> dict[str, str]:
    """Strings stay strings (ids keep their leading zeros); numbers are parsed by the C reader.
    Dates are read as categories: the C reader makes a string of each distinct text only
    (a chunk holds few distinct dates), and each is parsed once (column_types.as_datetime)."""
    kinds = {"string": "str", "datetime": "category"}
    return {c.name: kinds[c.type] for c in spec.columns if c.type in kinds}


def check_header(columns: list[str], spec: SourceSpec, file: str) -> list[str]:
    """Fail on missing columns; return notes about extra ones (accepted, then dropped)."""
    required = [c.name for c in spec.columns if c.calculated_from is None]
    missing = [c for c in required if c not in columns]
    if missing:
        raise DataContractError(
            file,
            missing[0],
            "required column",
            f"missing (expected columns {spec.column_names}, found {columns})",
        )
    extra = [c for c in columns if c not in spec.column_names]
    return [f"{file}: extra columns ignored: {extra}"] if extra else []


def _check_values(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> None:
    assert col.values is not None  # called only for columns that declare allowed values
    bad = (~series.isin(col.values) & series.notna()).to_numpy()
    if bad.any():
        raise DataContractError(
            file,
            col.name,
            "allowed values",
            f"unknown value(s) {examples(series, bad)}; allowed {list(col.values)}",
            line_numbers(bad, offset),
        )


def _soft_violations(frame: pd.DataFrame, spec: SourceSpec) -> dict[str, int]:
    out = {}
    for col in spec.columns:
        values = frame[col.name]
        count = 0
        if col.type == "datetime" and (col.from_date or col.to_date):
            lo = pd.Timestamp(col.from_date) if col.from_date else pd.Timestamp.min
            hi = pd.Timestamp(col.to_date) if col.to_date else pd.Timestamp.max
            count = int(((values < lo) | (values > hi)).sum())
        elif col.length is not None:
            present = values.dropna().to_numpy()  # len() over the values: 4x faster than .str
            lengths = np.fromiter(map(len, present), np.int64, len(present))
            count = int((lengths != col.length).sum())
        if count:
            out[f"{col.name}:{'date range' if col.type == 'datetime' else 'length'}"] = count
    return out


# A pandas duration holds about 292 years (int64 nanoseconds).
_MAX_SPAN_SECONDS = (2**63 - 1) // 10**9


def _days_between(frame: pd.DataFrame, start: str, end: str, file: str, offset: int) -> pd.Series:
    try:
        return (frame[end] - frame[start]).dt.days
    except OverflowError:
        first = frame[start].to_numpy(dtype="datetime64[s]")
        last = frame[end].to_numpy(dtype="datetime64[s]")
        known = ~(np.isnat(first) | np.isnat(last))
        span = np.where(known, (last - first).astype(np.int64), 0)
        far = np.abs(span) > _MAX_SPAN_SECONDS
        raise DataContractError(
            file,
            end,
            f"{end} within 292 years of {start}",
            "too far apart to count the days (pandas durations hold 292 years)",
            line_numbers(far, offset),
        ) from None


def _check_calculated(frame: pd.DataFrame, spec: SourceSpec, file: str, offset: int) -> None:
    for col in spec.columns:
        if col.calculated_from is None:
            continue
        start, end = col.calculated_from
        days = _days_between(frame, start, end, file, offset)
        before = (days < 0).to_numpy()
        if before.any():
            raise DataContractError(
                file,
                end,
                f"{end} on or after {start}",
                f"{end} is before {start}",
                line_numbers(before, offset),
            )
        if col.name in frame.columns:
            given = frame[col.name]
            wrong = (given.notna() & days.notna() & (given != days)).to_numpy()
            if wrong.any():
                raise DataContractError(
                    file,
                    col.name,
                    f"equals days from {start} to {end}",
                    f"disagrees with the dates: {examples(given, wrong)}",
                    line_numbers(wrong, offset),
                )
        else:
            frame[col.name] = days


def _check_join_key(keys: pd.Series, file: str, offset: int) -> None:
    values = keys.to_numpy()
    blank = pd.isna(values)
    if keys.dtype == object:  # whitespace only ("" is read as missing). A loop: the .str
        # accessor kept 50 MB more resident on 1M rows; str.isspace mapped over keys that are
        # all strings is 3x faster than a generator that must skip the missing ones.
        spaces = (
            map(str.isspace, values)
            if not blank.any()
            else (isinstance(k, str) and k.isspace() for k in values)
        )
        blank |= np.fromiter(spaces, bool, len(values))
    if blank.any():
        spaces = blank & keys.notna().to_numpy()
        shown = f": {examples(keys, spaces)}" if spaces.any() else ""
        raise DataContractError(
            file,
            str(keys.name),
            "join key present",
            f"empty or whitespace-only join key{shown}",
            line_numbers(blank, offset),
        )


def check_frame(
    raw: pd.DataFrame, spec: SourceSpec, file: str, join_key: str, offset: int = 0
) -> CheckedFrame:
    """Type, check and complete one chunk of a source. `offset` = rows before this chunk."""
    notes = check_header(list(raw.columns), spec, file)
    # a new frame, its columns replaced below: reindex copies once (selecting, then .copy()
    # copied the text columns twice)
    frame = raw.reindex(columns=[c for c in spec.column_names if c in raw.columns])
    utc_converted = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        try:
            if col.type in ("integer", "float"):
                frame[col.name] = as_numeric(series, col, file, offset)
            elif col.type == "datetime":
                frame[col.name], aware = as_datetime(series, col, file, offset)
                if aware:
                    utc_converted[col.name] = aware
                    notes.append(utc_note(file, col.name, aware))
            if col.values:
                _check_values(frame[col.name], col, file, offset)
        except (ValueError, TypeError, OverflowError) as exc:  # a value no rule foresaw
            raise DataContractError(
                file, col.name, f"type {col.type}", f"{type(exc).__name__}: {exc}"
            ) from None
    _check_join_key(frame[join_key], file, offset)
    _check_calculated(frame, spec, file, offset)
    return CheckedFrame(frame, notes, _soft_violations(frame, spec), utc_converted)


def utc_note(file: str, column: str, count: int) -> str:
    return f"{file}: {column}: {count} timezone-aware value(s) converted to UTC"
