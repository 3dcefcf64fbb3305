"""Shard boundaries: every cut is at the end of a record, quoted newlines included, and each
shard knows how many data rows come before it."""

import io

import numpy as np
import pandas as pd
import pytest

import mlcycle.shard_plan as shard_plan
from mlcycle.shard_plan import plan_shards


def _csv(rows: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    notes = ["plain", '"has\nnewline"', '"a ""quoted"" one"', '"x,\ny\n"', '"\r\n"']
    lines = [f"K{i},{rng.choice(notes)},{i}" for i in range(rows)]
    return ("id,note,n\n" + "\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("shard_bytes", [40, 333, 1000, 10**6])
def test_shards_read_with_the_header_are_the_file_row_for_row(monkeypatch, shard_bytes):
    monkeypatch.setattr(shard_plan, "READ_BYTES", 97)  # cuts and quotes across read blocks
    data = _csv(400, 1)
    header_end, shards = plan_shards(io.BytesIO(data), len(data), shard_bytes)
    assert data[:header_end] == b"id,note,n\n"
    parts = [pd.read_csv(io.BytesIO(data[:header_end] + data[s.start : s.end])) for s in shards]
    pd.testing.assert_frame_equal(
        pd.concat(parts, ignore_index=True), pd.read_csv(io.BytesIO(data))
    )
    assert [s.rows_before for s in shards] == list(np.cumsum([0] + [len(p) for p in parts[:-1]]))
    assert shards[0].start == header_end and shards[-1].end == len(data)
    assert all(a.end == b.start for a, b in zip(shards, shards[1:], strict=False))
    if shard_bytes < len(data) // 2:
        assert len(shards) > 1


def test_a_file_without_a_final_newline_keeps_its_last_record():
    data = b'id,n\nA,1\n"B\nB",2\nC,3'
    header_end, shards = plan_shards(io.BytesIO(data), len(data), 4)
    bodies = [data[s.start : s.end] for s in shards]
    assert bodies == [b"A,1\n", b'"B\nB",2\n', b"C,3"]
    assert [s.rows_before for s in shards] == [0, 1, 2]
