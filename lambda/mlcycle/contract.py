"""The data contract: what every input file must satisfy before a model sees it.

Hard rules raise DataContractError (the batch is quarantined, nothing is published);
soft rules (values outside a declared date range or length) are counted as schema
violations and monitored, because real feeds drift and stopping on them would hold
every batch for a cosmetic change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlcycle.config import ColumnSpec, SourceSpec
from mlcycle.errors import DataContractError

FIRST_DATA_LINE = 2  # the header is line 1


@dataclass
class CheckedFrame:
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    violations: dict[str, int] = field(default_factory=dict)

    @property
    def violation_count(self) -> int:
        return sum(self.violations.values())


def read_dtypes(spec: SourceSpec) -> dict[str, str]:
    """Strings stay strings (ids keep their leading zeros); numbers are parsed by the C reader."""
    return {c.name: "str" for c in spec.columns if c.type in ("string", "datetime")}


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


def _lines(mask: np.ndarray, offset: int) -> list[int]:
    return [int(i) + offset + FIRST_DATA_LINE for i in np.flatnonzero(mask)[:20]]


def _examples(values: pd.Series, mask: np.ndarray) -> str:
    return ", ".join(repr(v) for v in values[mask].head(3).tolist())


def _to_numeric(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        parsed = pd.to_numeric(series, errors="coerce")
        bad = (parsed.isna() & series.notna()).to_numpy()
        raise DataContractError(
            file,
            col.name,
            f"type {col.type}",
            f"not a number: {_examples(series, bad)}",
            _lines(bad, offset),
        )
    if col.type == "integer":
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isnan(values) & (np.mod(values, 1) != 0)
        if bad.any():
            raise DataContractError(
                file,
                col.name,
                "type integer",
                f"not a whole number: {_examples(series, bad)}",
                _lines(bad, offset),
            )
    return series


def _to_datetime(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> pd.Series:
    parsed = pd.to_datetime(series, format="ISO8601", errors="coerce")
    bad = (parsed.isna() & series.notna()).to_numpy()
    if bad.any():
        raise DataContractError(
            file,
            col.name,
            "date format",
            f"unparseable date (expected YYYY-MM-DD): {_examples(series, bad)}",
            _lines(bad, offset),
        )
    return parsed


def _check_values(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> None:
    assert col.values is not None  # called only for columns that declare allowed values
    bad = (~series.isin(col.values) & series.notna()).to_numpy()
    if bad.any():
        raise DataContractError(
            file,
            col.name,
            "allowed values",
            f"unknown value(s) {_examples(series, bad)}; allowed {list(col.values)}",
            _lines(bad, offset),
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
            count = int((values.notna() & (values.str.len() != col.length)).sum())
        if count:
            out[f"{col.name}:{'date range' if col.type == 'datetime' else 'length'}"] = count
    return out


def _check_calculated(frame: pd.DataFrame, spec: SourceSpec, file: str, offset: int) -> None:
    for col in spec.columns:
        if col.calculated_from is None:
            continue
        start, end = col.calculated_from
        days = (frame[end] - frame[start]).dt.days
        before = (days < 0).to_numpy()
        if before.any():
            raise DataContractError(
                file,
                end,
                f"{end} on or after {start}",
                f"{end} is before {start}",
                _lines(before, offset),
            )
        if col.name in frame.columns:
            given = frame[col.name]
            wrong = (given.notna() & days.notna() & (given != days)).to_numpy()
            if wrong.any():
                raise DataContractError(
                    file,
                    col.name,
                    f"equals days from {start} to {end}",
                    f"disagrees with the dates: {_examples(given, wrong)}",
                    _lines(wrong, offset),
                )
        else:
            frame[col.name] = days


def check_frame(
    raw: pd.DataFrame, spec: SourceSpec, file: str, join_key: str, offset: int = 0
) -> CheckedFrame:
    """Type, check and complete one chunk of a source. `offset` = rows before this chunk."""
    notes = check_header(list(raw.columns), spec, file)
    frame = raw[[c for c in spec.column_names if c in raw.columns]].copy()
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        if col.type in ("integer", "float"):
            frame[col.name] = _to_numeric(series, col, file, offset)
        elif col.type == "datetime":
            frame[col.name] = _to_datetime(series, col, file, offset)
        if col.values:
            _check_values(frame[col.name], col, file, offset)
    keys = frame[join_key]
    missing_key = keys.isna().to_numpy()
    if missing_key.any():
        raise DataContractError(
            file, join_key, "join key present", "empty join key", _lines(missing_key, offset)
        )
    _check_calculated(frame, spec, file, offset)
    return CheckedFrame(frame, notes, _soft_violations(frame, spec))
