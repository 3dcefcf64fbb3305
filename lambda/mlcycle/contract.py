"""The data contract: what every input file must satisfy before a model sees it.

Hard rules raise DataContractError (the batch is quarantined, nothing is published);
soft rules (values outside a declared date range or length) are counted as schema
violations and monitored, because real feeds drift and stopping on them would hold
every batch for a cosmetic change.

Timestamps with a UTC offset (`+02:00`, `Z`) are converted to UTC and the offset dropped;
naive ones are taken as UTC, so a column may mix both. The count is noted per file.
"""

from __future__ import annotations

import math
import re
import warnings
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
    # column -> values that carried a UTC offset (converted to UTC, offset dropped)
    utc_converted: dict[str, int] = field(default_factory=dict)

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


def _overflows(value: object) -> bool:
    """'1e400': a number, but beyond float64."""
    try:
        return math.isinf(float(str(value)))
    except ValueError:
        return False


def _to_numeric(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        # The C reader left the column as text: find the values it could not read.
        parsed = pd.to_numeric(series, errors="coerce")
        values = parsed.to_numpy(dtype="float64", na_value=np.nan)
        present = series.notna().to_numpy()
        unread = present & np.isnan(values)
        too_big = np.zeros(len(series), dtype=bool)
        too_big[unread] = [_overflows(v) for v in series[unread]]
        if col.type == "integer":  # 99999999999999999999 parses as a float, not as int64
            too_big |= present & ~np.isnan(values) & ~(np.abs(values) < 2.0**63)
        not_number = unread & ~too_big
        if not_number.any():
            raise DataContractError(
                file,
                col.name,
                f"type {col.type}",
                f"not a number: {_examples(series, not_number)}",
                _lines(not_number, offset),
            )
        if too_big.any():
            limit = "64-bit integer" if col.type == "integer" else "float64"
            raise DataContractError(
                file,
                col.name,
                f"type {col.type}",
                f"number out of range ({limit}): {_examples(series, too_big)}",
                _lines(too_big, offset),
            )
        series = parsed
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


# A value with a time and a UTC offset (Z, +02, +0200, +02:00): what pandas parses as aware.
_AWARE = re.compile(r"[T ]\d.*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")
_LEADING_YEAR = re.compile(r"^([+-]?\d{4,})(-.*)$")
_DATE_RANGE = (
    f"pandas timestamps hold years 1677-2262 "
    f"({pd.Timestamp.min:%Y-%m-%d %H:%M} to {pd.Timestamp.max:%Y-%m-%d %H:%M})"
)


def _parse_dates(values: pd.Series, utc: bool) -> pd.Series:
    with warnings.catch_warnings():
        # pandas 2 warns (pandas 3 raises) on mixed offsets without utc=True: the caller
        # then parses again with utc=True.
        warnings.simplefilter("ignore", FutureWarning)
        return pd.to_datetime(values, format="ISO8601", errors="coerce", utc=utc)


def _breaking(values: pd.Series, found: list[int], start: int = 0) -> None:
    """Positions of the values that make a whole-column parse raise, found by halving."""
    try:
        _parse_dates(values, utc=True)
    except (ValueError, TypeError, OverflowError):
        if len(values) == 1:
            found.append(start)
        elif len(found) < 20:
            half = len(values) // 2
            _breaking(values.iloc[:half], found, start)
            _breaking(values.iloc[half:], found, start + half)


# pandas converts an offset past its bounds without an error, wrapping to the other end
# (1677-09-21T02:00+02:00 becomes 2262-04-11): offsets are under 24 hours, so a value that
# lands within two days of a bound is checked on its own.
_EDGES = (pd.Timestamp.min + pd.Timedelta(days=2), pd.Timestamp.max - pd.Timedelta(days=2))


def _fits_in_utc(value: object) -> bool:
    try:  # a Timestamp parsed alone has the resolution of its text: seconds reach far enough
        stamp = pd.Timestamp(str(value).strip())
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return bool(pd.Timestamp.min <= stamp <= pd.Timestamp.max)
    except (ValueError, TypeError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return False


def _wrapped(series: pd.Series, parsed: pd.Series) -> np.ndarray:
    """Values whose conversion to UTC left pandas' range (and wrapped around)."""
    edge = (parsed.notna() & ((parsed < _EDGES[0]) | (parsed > _EDGES[1]))).to_numpy()
    wrapped = np.zeros(len(series), dtype=bool)
    wrapped[edge] = [not _fits_in_utc(v) for v in series[edge]]
    return wrapped


def _out_of_range(values: pd.Series) -> np.ndarray:
    """Which unparseable values are valid dates in a year pandas cannot hold.

    The same text with a representable year (leap or not, like the original) parses.
    """
    parts = values.astype(str).str.strip().str.extract(_LEADING_YEAR)
    year = pd.to_numeric(parts[0], errors="coerce")
    outside = (year.notna() & ~year.between(1678, 2261)).to_numpy()
    if not outside.any():
        return outside
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    stand_in = leap.map({True: "2000", False: "2001"}) + parts[1]
    try:
        outside[outside] = _parse_dates(stand_in[outside], utc=True).notna().to_numpy()
    except (ValueError, TypeError, OverflowError):
        return np.zeros(len(values), dtype=bool)  # then they are reported as unparseable
    return outside


def _clocks() -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp.now(), pd.Timestamp.now(tz="UTC").tz_localize(None)


def _clock_words(
    series: pd.Series,
    parsed: pd.Series,
    started: tuple[pd.Timestamp, pd.Timestamp],
    ended: tuple[pd.Timestamp, pd.Timestamp],
) -> np.ndarray:
    """'now' and 'today', which pandas reads as the clock (local or UTC) while it parses."""
    near = np.zeros(len(parsed), dtype=bool)
    for lo, hi in zip(started, ended, strict=True):
        near |= ((parsed >= lo) & (parsed <= hi)).to_numpy()
    if near.any():
        near[near] = series[near].isin(["now", "today"]).to_numpy()
    return near


def _to_datetime(
    series: pd.Series, col: ColumnSpec, file: str, offset: int
) -> tuple[pd.Series, int]:
    """ISO 8601 dates as naive datetime64; values with a UTC offset are converted to UTC.

    Naive values are taken as UTC, so one column may mix both. Returns the column and how
    many values carried an offset.
    """
    started = _clocks()
    try:
        parsed: pd.Series | None = _parse_dates(series, utc=False)
    except (ValueError, TypeError, OverflowError):  # pandas 3: mixed offsets raise
        parsed = None
    aware = 0
    if parsed is None or parsed.dtype != "datetime64[ns]":  # an offset somewhere
        try:
            parsed = _parse_dates(series, utc=True).dt.tz_localize(None)
        except (ValueError, TypeError, OverflowError) as exc:  # a value breaks the column
            found: list[int] = []
            _breaking(series, found)
            failed = np.zeros(len(series), dtype=bool)
            failed[found] = True
            shown = _examples(series, failed) if found else f"{type(exc).__name__}: {exc}"
            raise DataContractError(
                file,
                col.name,
                "date format",
                f"unparseable date (expected YYYY-MM-DD): {shown}",
                _lines(failed, offset),
            ) from None
        parsed = parsed.mask(_wrapped(series, parsed))
        aware = int((series.astype(str).str.contains(_AWARE) & parsed.notna()).sum())
    parsed = parsed.mask(_clock_words(series, parsed, started, _clocks()))
    bad = (parsed.isna() & series.notna()).to_numpy()
    if bad.any():
        far = np.zeros(len(series), dtype=bool)
        far[bad] = _out_of_range(series[bad])
        unparseable = bad & ~far
        if unparseable.any():
            raise DataContractError(
                file,
                col.name,
                "date format",
                f"unparseable date (expected YYYY-MM-DD): {_examples(series, unparseable)}",
                _lines(unparseable, offset),
            )
        raise DataContractError(
            file,
            col.name,
            "date in pandas range",
            f"date out of range: {_DATE_RANGE}: {_examples(series, far)}",
            _lines(far, offset),
        )
    return parsed, aware


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
            _lines(far, offset),
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


def _check_join_key(keys: pd.Series, file: str, offset: int) -> None:
    blank = keys.isna().to_numpy()
    if keys.dtype == object:  # whitespace only ("" is read as missing). A loop: the .str
        # accessor kept 50 MB more resident on 1M rows.
        blank |= np.fromiter(
            (isinstance(k, str) and k.isspace() for k in keys.to_numpy()), bool, len(keys)
        )
    if blank.any():
        spaces = blank & keys.notna().to_numpy()
        shown = f": {_examples(keys, spaces)}" if spaces.any() else ""
        raise DataContractError(
            file,
            str(keys.name),
            "join key present",
            f"empty or whitespace-only join key{shown}",
            _lines(blank, offset),
        )


def check_frame(
    raw: pd.DataFrame, spec: SourceSpec, file: str, join_key: str, offset: int = 0
) -> CheckedFrame:
    """Type, check and complete one chunk of a source. `offset` = rows before this chunk."""
    notes = check_header(list(raw.columns), spec, file)
    frame = raw[[c for c in spec.column_names if c in raw.columns]].copy()
    utc_converted = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        series = frame[col.name]
        try:
            if col.type in ("integer", "float"):
                frame[col.name] = _to_numeric(series, col, file, offset)
            elif col.type == "datetime":
                frame[col.name], aware = _to_datetime(series, col, file, offset)
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
