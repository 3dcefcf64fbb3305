"""Whole-file key checks and the attribute join in bounded memory: key hashes spilled to local
disk in partitions, the attribute source joined from sorted files on disk."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlcycle import keyspill
from mlcycle.attribute_files import DiskAttributes
from mlcycle.attributes import _in_memory, join, read_attributes
from mlcycle.config import ColumnSpec, SourceSpec, load_config
from mlcycle.errors import DataContractError
from mlcycle.heap import frozen_heap
from mlcycle.keyspill import KeySpill, key_hashes
from mlcycle.sources import SourceReader


def _bookings_csv(ids: list[str]) -> bytes:
    lines = ["hotel_id,value"] + [f"{i},{n}" for n, i in enumerate(ids)]
    return ("\n".join(lines) + "\n").encode()


SPEC = SourceSpec(
    "bookings", (ColumnSpec("hotel_id", "string", unique=True), ColumnSpec("value", "integer"))
)
CONFIG = Path(__file__).resolve().parents[2] / "model" / "model_config.yml"


def test_a_duplicate_near_the_end_is_found_across_chunks_with_its_line(tmp_path, monkeypatch):
    monkeypatch.setenv("MLCYCLE_SPILL_DIR", str(tmp_path))
    ids = [f"H{i:06d}" for i in range(20_000)]
    ids[-2] = ids[3]  # the 4th data row's key again, 19,998th data row: line 20,000 of the file
    reader = SourceReader(io.BytesIO(_bookings_csv(ids)), SPEC, "bookings.csv", "hotel_id", 1000)
    with pytest.raises(DataContractError) as caught, frozen_heap():
        for _ in reader:
            pass
    error = caught.value.as_dict()
    assert (error["column"], error["rule"]) == ("hotel_id", "unique")
    assert error["detail"] == "1 duplicate value(s)"
    assert error["lines"] == [20_000]
    assert list(tmp_path.iterdir()) == []  # the spill is gone once the check has run


def test_the_spill_reports_every_repeat_in_row_order():
    hashes = np.array([5, 7, 5, 9, 7, 5], dtype=np.uint64) << np.uint64(40)
    with KeySpill() as spill:
        spill.add_rows(hashes[:3], 0)
        spill.add_rows(hashes[3:], 3)
        assert spill.repeated_rows() == (3, [2, 4, 5])


@pytest.mark.parametrize("held_bytes", [1, 48, None])
def test_the_spill_sorts_alike_held_in_memory_or_on_disk(held_bytes, tmp_path, monkeypatch):
    """Past HELD_BYTES records go to the partition files and come back partition by
    partition; below it nothing touches the disk and they come sorted at once: the same order,
    hash order with ties in the order added."""
    if held_bytes:
        monkeypatch.setattr(keyspill, "HELD_BYTES", held_bytes)
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**64, size=500, dtype=np.uint64)
    hashes[rng.integers(0, 500, size=60)] = hashes[:60]  # repeats, some across partitions
    with KeySpill(directory=str(tmp_path)) as spill:
        for start in range(0, 500, 7):
            spill.add_rows(hashes[start : start + 7], start)
        on_disk = any(tmp_path.iterdir())
        parts = list(spill.sorted_partitions())
    assert on_disk == bool(held_bytes)
    records = np.concatenate(parts)
    order = np.argsort(hashes, kind="stable")
    assert (records["hash"] == hashes[order]).all()
    assert (records["row"] == order).all()
    tops = [set((p["hash"] >> np.uint64(64 - keyspill.PARTITION_BITS)).tolist()) for p in parts]
    if held_bytes:
        assert all(len(t) == 1 for t in tops) and len(parts) == len(set.union(*tops))
    else:
        assert len(parts) == 1
    assert list(tmp_path.iterdir()) == []


def test_key_hashes_are_pandas_default_ones_whatever_the_keys():
    # an index built by an earlier release (a shard's, on disk) must still match
    for keys in (["H1", "H2", "H1", "é", ""], [1, 2, 1], ["H1", None, "nan"], ["5", 5]):
        values = np.array(keys, dtype=object)
        assert (key_hashes(values) == pd.util.hash_array(values)).all()


def _hotels(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "hotel_id": [f"H{i:07d}" for i in rng.permutation(2 * n)[:n]],
            "country_code": pd.Series(rng.choice(["DE", "FR", "PL", None], n), dtype=object),
            "stars": rng.integers(1, 6, n).astype(float),
            "opened": pd.to_datetime("2001-01-01")
            + pd.to_timedelta(rng.integers(0, 5000, n), unit="D"),
        }
    )
    frame.loc[::11, "stars"] = np.nan
    return frame


def test_the_join_from_disk_equals_the_join_in_memory():
    hotels = _hotels(30_000, 1)
    chunks = [
        (hotels.iloc[i : i + 7000], key_hashes(hotels["hotel_id"].iloc[i : i + 7000]))
        for i in range(0, len(hotels), 7000)
    ]
    wanted = pd.concat(
        [hotels["hotel_id"].sample(5000, random_state=2), pd.Series(["H9999999", "X"])],
        ignore_index=True,
    )
    base = pd.DataFrame({"hotel_id": wanted, "n": range(len(wanted))})
    memory, coverage_m = join(base, [_in_memory("hotels", chunks, "hotel_id")], "hotel_id")
    disk_index = DiskAttributes("hotels", iter(chunks), "hotel_id")
    try:
        disk, coverage_d = join(base, [disk_index], "hotel_id")
    finally:
        disk_index.close()
    assert coverage_d == coverage_m == {"hotels": 5000 / 5002}
    pd.testing.assert_frame_equal(disk, memory)
    assert disk["country_code"].iloc[-2:].isna().all()
    assert disk["hotel_id"].tolist() == wanted.tolist()  # the base's order is kept


def test_a_long_attribute_source_is_read_onto_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("MLCYCLE_ATTRIBUTE_MEMORY_ROWS", "100")
    monkeypatch.setenv("MLCYCLE_SPILL_DIR", str(tmp_path))
    cfg = load_config(CONFIG)
    hotels = _hotels(1000, 3)[["hotel_id", "country_code"]].fillna({"country_code": "DE"})

    class Store:
        def open(self, bucket, key):
            return io.BytesIO(hotels.to_csv(index=False).encode())

    attributes, _ = read_attributes(Store(), "data", "incoming/b1/", cfg)
    assert isinstance(attributes[0], DiskAttributes) and attributes[0].rows == 1000
    base = hotels.iloc[::-1].reset_index(drop=True)[["hotel_id"]]
    joined, coverage = join(base, attributes, "hotel_id")
    assert coverage == {"hotels": 1.0}
    assert joined["country_code"].tolist() == hotels["country_code"].iloc[::-1].tolist()
    attributes[0].close()
    assert list(tmp_path.iterdir()) == []
