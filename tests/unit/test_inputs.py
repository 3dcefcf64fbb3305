"""Hostile inputs: each is refused with the file, column, rule and line, or read under a
documented rule (timezone offsets); none raises an untyped error or is accepted silently."""

import io

import pandas as pd
import pytest

from mlcycle import sources
from mlcycle.config import load_config
from mlcycle.errors import DataContractError
from mlcycle.sources import SourceReader
from tests.conftest import MODEL_DIR

CFG = load_config(MODEL_DIR / "model_config.yml")
HEADER = "hotel_id,day_distance,length_of_stay,date,check_in,check_out\n"
DATES = "hotel_id,date,check_in,check_out\n"  # the day counts are derived


def row(key: object, check_in: str = "2026-01-04", check_out: str = "2026-01-06") -> str:
    return f"{key},2026-01-01,{check_in},{check_out}\n"


def rows(n: int, start: int = 1) -> str:
    return "".join(row(f"k{i:07d}") for i in range(start, start + n))


class Stream(io.BytesIO):
    """An object body that records how much the reader asked for at once."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.largest = max(self.largest, len(data))
        return data


def read(data: str | bytes, chunk_rows: int = 2, spec=None):
    body = data.encode() if isinstance(data, str) else data
    reader = SourceReader(Stream(body), spec or CFG.input_spec, "f.csv", "hotel_id", chunk_rows)
    return reader.read_all(), reader.summary


def refused(data: str | bytes, chunk_rows: int = 2, spec=None) -> DataContractError:
    with pytest.raises(DataContractError) as err:
        read(data, chunk_rows, spec)
    return err.value


# NUL bytes


def test_a_nul_byte_in_a_key_is_refused_with_its_column_and_line():
    err = refused(DATES + rows(2) + row("12\x0034") + rows(1, 9))
    assert (err.column, err.rule, err.rows) == ("hotel_id", "no NUL bytes", [4])
    assert "f.csv: column 'hotel_id': no NUL bytes: NUL byte (0x00) at byte offset" in str(err)


def test_a_nul_byte_in_another_column_names_that_column():
    err = refused(DATES + rows(1) + row("k", check_in="2026-01-\x0004"))
    assert (err.column, err.rule, err.rows) == ("check_in", "no NUL bytes", [3])


def test_a_nul_byte_in_the_header_names_no_column():
    err = refused(DATES.replace("date", "da\x00te", 1) + rows(1))
    assert (err.column, err.rule, err.rows) == (None, "no NUL bytes", [1])


def test_utf16_is_refused_as_nul_bytes_on_line_1():
    err = refused((DATES + rows(2)).encode("utf-16"))
    assert (err.column, err.rule, err.rows) == (None, "no NUL bytes", [1])


def test_a_nul_byte_far_into_the_file_is_found_while_streaming_with_its_line():
    data = (DATES + rows(20_000) + row("77\x00") + rows(20_000, 50_000)).encode()
    stream = Stream(data)
    reader = SourceReader(stream, CFG.input_spec, "f.csv", "hotel_id", 5_000)
    with pytest.raises(DataContractError) as err:
        for _ in reader:
            pass
    assert (err.value.column, err.value.rule, err.value.rows) == (
        "hotel_id",
        "no NUL bytes",
        [20_002],
    )
    assert str(data.index(b"\x00")) in err.value.detail  # the byte offset in the file
    assert stream.largest <= 1 << 20 and stream.tell() < len(data)  # blocks, not the whole file


# Duplicate header names


def test_a_column_named_twice_is_refused():
    text = HEADER.replace("\n", ",day_distance\n") + "1,3,2,2026-01-01,2026-01-04,2026-01-06,9\n"
    err = refused(text)
    assert (err.column, err.rule, err.rows) == ("day_distance", "unique column names", [1])
    assert "'day_distance' names columns 2 and 7" in str(err)


def test_the_join_key_named_twice_with_different_values_is_refused():
    err = refused(
        "hotel_id,hotel_id,date,check_in,check_out\n1,2,2026-01-01,2026-01-04,2026-01-06\n"
    )
    assert (err.column, err.rule, err.rows) == ("hotel_id", "unique column names", [1])


def test_a_duplicate_header_is_refused_even_in_a_header_only_file():
    err = refused("hotel_id,country_code,country_code\n", spec=CFG.sources[1])
    assert (err.column, err.rule) == ("country_code", "unique column names")


def test_unnamed_trailing_columns_are_not_duplicates():
    frame, summary = read(DATES.replace("\n", ",,\n") + "1,2026-01-01,2026-01-04,2026-01-06,,\n")
    assert len(frame) == 1 and "extra columns ignored" in summary.notes[0]


# Blank join keys


def test_whitespace_only_join_keys_are_refused_with_their_lines():
    err = refused(DATES + rows(1) + row("   ") + rows(1, 5) + row("\t"), chunk_rows=10)
    assert (err.column, err.rule, err.rows) == ("hotel_id", "join key present", [3, 5])
    assert "empty or whitespace-only join key: '   ', '\\t'" in str(err)


def test_empty_and_whitespace_only_join_keys_in_one_chunk_are_refused_together():
    err = refused(DATES + row("") + rows(1) + row(" "), chunk_rows=10)
    assert (err.column, err.rule, err.rows) == ("hotel_id", "join key present", [2, 4])
    assert "empty or whitespace-only join key: ' '" in str(err)


def test_an_empty_join_key_in_a_later_chunk_is_refused_with_its_line():
    err = refused(DATES + rows(3) + row('""'), chunk_rows=2)
    assert (err.column, err.rule, err.rows) == ("hotel_id", "join key present", [5])


def test_keys_with_inner_or_surrounding_text_are_kept():
    frame, _ = read(DATES + row("a b") + row(" 7"))
    assert frame["hotel_id"].tolist() == ["a b", " 7"]


# Dates pandas cannot hold


@pytest.mark.parametrize(
    "value", ["1500-01-01", "2262-04-12", "10000-01-01", "1677-09-21T02:00:00+02:00"]
)
def test_a_date_outside_pandas_range_is_refused_as_out_of_range(value):
    err = refused(DATES + rows(2) + row("k", check_in=value, check_out="2026-01-06"))
    assert (err.column, err.rule, err.rows) == ("check_in", "date in pandas range", [4])
    assert "date out of range: pandas timestamps hold years 1677-2262" in str(err)
    assert repr(value) in str(err)


def test_an_impossible_date_stays_unparseable():
    err = refused(DATES + row("k", check_in="3000-02-29"))  # 3000 is not a leap year
    assert (err.column, err.rule, err.rows) == ("check_in", "date format", [2])


@pytest.mark.parametrize("word", ["now", "today"])
def test_now_and_today_are_not_dates(word):  # pandas would read them as the clock
    err = refused(DATES + rows(1) + row("k", check_in=word))
    assert (err.column, err.rule, err.rows) == ("check_in", "date format", [3])
    assert f"unparseable date (expected YYYY-MM-DD): '{word}'" in str(err)


def test_dates_too_far_apart_to_count_days_are_refused():
    err = refused(DATES + rows(1) + row("k", check_in="1700-01-04", check_out="1700-01-06"))
    assert (err.column, err.rule, err.rows) == (
        "check_in",
        "check_in within 292 years of date",
        [3],
    )


# Timezone-aware timestamps: converted to UTC, offset dropped, noted


def test_timezone_aware_values_are_read_as_utc_and_noted():
    text = (
        DATES
        + row("a", check_in="2026-01-04T10:00:00+02:00")  # 08:00 UTC
        + row("b", check_in="2026-01-04T23:30:00Z")
        + row("c", check_in="2026-01-04")  # naive: taken as UTC
        + row("d", check_in="2026-01-04T01:00:00-05:00", check_out="2026-01-06T00:00:00+01:00")
    )
    frame, summary = read(text, chunk_rows=3)
    assert frame["check_in"].tolist() == [
        pd.Timestamp("2026-01-04 08:00"),
        pd.Timestamp("2026-01-04 23:30"),
        pd.Timestamp("2026-01-04"),
        pd.Timestamp("2026-01-04 06:00"),
    ]
    assert frame["check_in"].dtype == "datetime64[ns]" and frame["check_out"].dt.tz is None
    assert frame["check_out"].iloc[3] == pd.Timestamp("2026-01-05 23:00")
    assert frame["day_distance"].tolist() == [3, 3, 3, 3]
    assert summary.utc_converted == {"check_in": 3, "check_out": 1}
    assert "f.csv: check_in: 3 timezone-aware value(s) converted to UTC" in summary.notes
    assert "f.csv: check_out: 1 timezone-aware value(s) converted to UTC" in summary.notes


def test_the_chunk_notes_say_how_many_values_were_converted():
    reader = SourceReader(
        io.BytesIO((DATES + row("a", check_in="2026-01-04T10:00:00+02:00") + rows(1)).encode()),
        CFG.input_spec,
        "f.csv",
        "hotel_id",
    )
    (chunk,) = list(reader)
    assert chunk.notes == ["f.csv: check_in: 1 timezone-aware value(s) converted to UTC"]
    assert chunk.utc_converted == {"check_in": 1}


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-04T10:00:00+25:00",
        "2026-01-04T10:00:00z",
        "2026-01-04T10:00:00 UTC",
        "2026-01-04T10:00:00+02:00:00",
        "2026-01-04T24:00",
        "+2026-01-04",
        "1677-12-30T10:00:00+02:00",
        "9999-12-31T23:59:59.999999999-23:59",
        "now",
        "NaT",
        "0",
        "٢٠٢٦-٠١-٠٤",
    ],
)
def test_no_string_in_a_datetime_column_raises_an_untyped_error(value):
    text = DATES + row("a", check_in="2026-01-04T10:00:00+02:00") + row("b", check_in=value)
    try:
        read(text, chunk_rows=10)
    except DataContractError as err:
        assert err.column == "check_in" and err.rows == [3]


# Anything else the parser raises


def test_a_row_with_too_many_fields_is_a_csv_format_error():
    err = refused(DATES + rows(1) + "k2,2026-01-01,2026-01-04,2026-01-06,extra\n")
    assert (err.column, err.rule) == (None, "CSV format")
    assert "Expected 4 fields in line 3, saw 5" in err.detail


def test_invalid_utf8_mid_file_names_its_line_and_byte_offset():
    data = (DATES + rows(20_000)).encode()
    at = data.index(b"k0015000")
    data = data[:at] + b"\xff" + data[at + 1 :]
    err = refused(data, chunk_rows=5_000)
    assert (err.column, err.rule, err.rows) == (None, "encoding UTF-8", [15_001])
    assert err.detail == f"invalid byte 0xff at byte offset {at}"


def test_a_utf8_character_cut_at_the_end_of_the_file_is_located():
    data = (DATES + rows(2)).encode() + b"\xc3"
    err = refused(data)
    assert (err.rule, err.rows) == ("encoding UTF-8", [4])
    assert err.detail.endswith(f"byte offset {len(data) - 1}")


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("99999999999999999999", "number out of range (64-bit integer): '99999999999999999999'"),
        ("1e400", "number out of range (64-bit integer): '1e400'"),
        ("1_000", "not a number: '1_000'"),
    ],
)
def test_a_number_out_of_range_is_refused_with_its_line(value, detail):
    err = refused(HEADER + f"1,{value},2,2026-01-01,2026-01-04,2026-01-06\n")
    assert (err.column, err.rule, err.rows, err.detail) == (
        "day_distance",
        "type integer",
        [2],
        detail,
    )


@pytest.mark.parametrize("exc", [ValueError("weird"), OverflowError("big"), TypeError("odd")])
def test_any_other_parser_exception_is_a_contract_error_naming_the_file(monkeypatch, exc):
    def failing(*args, **kwargs):
        raise exc

    monkeypatch.setattr(sources.pd, "read_csv", failing)
    err = refused(DATES + rows(1))
    assert (err.file, err.column, err.rule) == ("f.csv", None, "CSV format")
    assert type(exc).__name__ in err.detail


def test_an_exception_converting_a_column_names_the_column(monkeypatch):
    from mlcycle import contract

    def failing(*args, **kwargs):
        raise OverflowError("int too large")

    monkeypatch.setattr(contract, "as_datetime", failing)
    err = refused(DATES + rows(1))
    assert (err.column, err.rule) == ("date", "type datetime")
    assert "OverflowError: int too large" in err.detail


def test_a_value_that_breaks_the_whole_column_parse_is_found_with_its_line(monkeypatch):
    from mlcycle import column_types

    real, marker = column_types._parse_dates, "2026-01-04T09:00:00+09:00"

    def fragile(values, utc):
        if utc and (values == marker).any():
            raise ValueError("a pandas bug")
        return real(values, utc)

    monkeypatch.setattr(column_types, "_parse_dates", fragile)
    text = DATES + row("a", check_in="2026-01-04T10:00:00+02:00") + rows(2) + row("b", marker)
    err = refused(text, chunk_rows=10)
    assert (err.column, err.rule, err.rows) == ("check_in", "date format", [5])
    assert repr(marker) in err.detail


def test_a_whole_chunk_of_out_of_range_dates_is_classified_at_once():
    text = DATES + "".join(row(f"k{i}", check_in="0026-01-04") for i in range(50_000))
    err = refused(text, chunk_rows=50_000)
    assert (err.rule, err.rows[:3]) == ("date in pandas range", [2, 3, 4])
