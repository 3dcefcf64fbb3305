"""The contract's type rules: a column's text read as integers, floats or ISO 8601 dates.

A value that cannot be read as its declared type is refused (a DataContractError naming
its lines and a few examples), never left as a missing value.

Timestamps with a UTC offset (`+02:00`, `Z`) are converted to UTC and the offset dropped;
naive ones are taken as UTC, so a column may mix both. The count is noted per file.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd

from mlcycle.config import ColumnSpec
from mlcycle.errors import DataContractError
from mlcycle.refusals import examples, line_numbers


def _overflows(value: object) -> bool:
    """'1e400': a number, but beyond float64."""
    try:
        return math.isinf(float(str(value)))
    except ValueError:
        return False


def as_numeric(series: pd.Series, col: ColumnSpec, file: str, offset: int) -> pd.Series:
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
                f"not a number: {examples(series, not_number)}",
                line_numbers(not_number, offset),
            )
        if too_big.any():
            limit = "64-bit integer" if col.type == "integer" else "float64"
            raise DataContractError(
                file,
                col.name,
                f"type {col.type}",
                f"number out of range ({limit}): {examples(series, too_big)}",
                line_numbers(too_big, offset),
            )
        series = parsed
    if col.type == "integer" and not pd.api.types.is_integer_dtype(series):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isnan(values) & (np.mod(values, 1) != 0)
        if bad.any():
            raise DataContractError(
                file,
                col.name,
                "type integer",
                f"not a whole number: {examples(series, bad)}",
                line_numbers(bad, offset),
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
    """Each distinct text parsed once: a chunk holds few distinct dates, and factorizing
    them is cheaper than pandas' own cache, which finds them and then looks every value up.
    Text read as categories (contract.read_dtypes) is factorized already."""
    codes, distinct = pd.factorize(values)
    distinct = np.asarray(distinct, dtype=object)
    with warnings.catch_warnings():
        # pandas 2 warns (pandas 3 raises) on mixed offsets without utc=True: the caller
        # then parses again with utc=True.
        warnings.simplefilter("ignore", FutureWarning)
        parsed = pd.to_datetime(distinct, format="ISO8601", errors="coerce", utc=utc)
    filled = parsed.take(codes, allow_fill=True, fill_value=pd.NaT)
    return pd.Series(filled, index=values.index, name=values.name)


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
    stamps = parsed.to_numpy()  # on arrays: pandas' comparisons cost a millisecond each
    near = np.zeros(len(parsed), dtype=bool)
    for lo, hi in zip(started, ended, strict=True):
        near |= (stamps >= lo.to_datetime64()) & (stamps <= hi.to_datetime64())
    if near.any():
        near[near] = series[near].isin(["now", "today"]).to_numpy()
    return near


def as_datetime(
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
            shown = examples(series, failed) if found else f"{type(exc).__name__}: {exc}"
            raise DataContractError(
                file,
                col.name,
                "date format",
                f"unparseable date (expected YYYY-MM-DD): {shown}",
                line_numbers(failed, offset),
            ) from None
        parsed = parsed.mask(_wrapped(series, parsed))
        aware = int((series.astype(str).str.contains(_AWARE) & parsed.notna()).sum())
    parsed = parsed.mask(_clock_words(series, parsed, started, _clocks()))
    bad = parsed.isna().to_numpy()
    if bad.any():  # the text's own missing values are looked for only then: a pass over text
        bad &= series.notna().to_numpy()
    if bad.any():
        far = np.zeros(len(series), dtype=bool)
        far[bad] = _out_of_range(series[bad])
        unparseable = bad & ~far
        if unparseable.any():
            raise DataContractError(
                file,
                col.name,
                "date format",
                f"unparseable date (expected YYYY-MM-DD): {examples(series, unparseable)}",
                line_numbers(unparseable, offset),
            )
        raise DataContractError(
            file,
            col.name,
            "date in pandas range",
            f"date out of range: {_DATE_RANGE}: {examples(series, far)}",
            line_numbers(far, offset),
        )
    return parsed, aware
