import io

import pandas as pd
import pytest

from mlcycle.attributes import index_attributes, join
from mlcycle.config import load_config
from mlcycle.datasets import time_split
from mlcycle.errors import DataContractError
from mlcycle.sources import SourceReader
from tests.conftest import MODEL_DIR

CFG = load_config(MODEL_DIR / "model_config.yml")
HEADER = "hotel_id,day_distance,length_of_stay,date,check_in,check_out\n"


def read(text: str, spec=None, chunk_rows=2):
    reader = SourceReader(
        io.BytesIO(text.encode()), spec or CFG.input_spec, "f.csv", "hotel_id", chunk_rows
    )
    return reader.read_all(), reader.summary


def test_types_and_derived_columns():
    frame, summary = read(
        HEADER
        + "007,3,2,2026-01-01,2026-01-04,2026-01-06\n008,0,0,2026-01-01,2026-01-01,2026-01-01\n"
    )
    assert frame["hotel_id"].tolist() == ["007", "008"]  # ids keep their leading zeros
    assert str(frame["check_in"].dtype).startswith("datetime64")
    assert summary.rows == 2 and summary.violations == {}


def test_calculated_columns_are_filled_when_absent():
    text = "hotel_id,date,check_in,check_out\n1,2026-01-01,2026-01-04,2026-01-06\n"
    frame, _ = read(text)
    assert frame[["day_distance", "length_of_stay"]].values.tolist() == [[3, 2]]


def test_a_calculated_column_that_disagrees_with_its_dates_is_rejected():
    with pytest.raises(
        DataContractError, match="column 'day_distance': equals days from date to check_in"
    ):
        read(HEADER + "1,5,2,2026-01-01,2026-01-04,2026-01-06\n")


def test_duplicates_are_found_across_chunks_with_their_line_numbers():
    rows = "".join(f"{i},0,0,2026-01-01,2026-01-01,2026-01-01\n" for i in (1, 2, 3, 1))
    with pytest.raises(DataContractError) as err:
        read(HEADER + rows, chunk_rows=2)
    assert err.value.column == "hotel_id" and err.value.rule == "unique" and err.value.rows == [5]


def test_soft_rules_are_counted_not_rejected():
    spec = CFG.sources[1]
    frame, summary = read("hotel_id,country_code\n1,NLD\n2,DE\n3,\n", spec)
    assert len(frame) == 3 and summary.violations == {"country_code:length": 1}


def test_non_integer_number_is_rejected():
    with pytest.raises(DataContractError, match="not a whole number: 2.5"):
        read(HEADER + "1,2.5,0,2026-01-01,2026-01-01,2026-01-01\n")


def test_empty_join_key_is_rejected():
    with pytest.raises(DataContractError, match="column 'hotel_id': join key present"):
        read(HEADER + ",0,0,2026-01-01,2026-01-01,2026-01-01\n")


def test_left_join_keeps_every_row_and_reports_coverage():
    base = pd.DataFrame({"hotel_id": ["a", "b", "c", "d"], "x": [1, 2, 3, 4]})
    hotels = index_attributes(
        "hotels",
        pd.DataFrame({"hotel_id": ["b", "d", "z"], "country_code": ["NL", "DE", "FR"]}),
        "hotel_id",
    )
    joined, coverage = join(base, [hotels], "hotel_id")
    assert joined["hotel_id"].tolist() == ["a", "b", "c", "d"]
    assert joined["country_code"].tolist()[1::2] == ["NL", "DE"] and joined[
        "country_code"
    ].isna().tolist()[::2] == [True, True]
    assert coverage == {"hotels": 0.5}


def test_time_split_holds_out_the_newest_rows():
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2026-01-05", "2026-01-01", "2026-01-03", "2026-01-02", "2026-01-04"]
            )
        }
    )
    train, holdout = time_split(frame, "date", 0.4)
    assert holdout["date"].min() > train["date"].max() and len(holdout) == 2
