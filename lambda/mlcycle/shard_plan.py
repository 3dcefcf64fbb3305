"""Where to cut a CSV file into shards: byte ranges that start and end on record boundaries.

A newline inside a quoted field is not a record boundary, so one pass over the bytes tracks
whether each position is inside quotes (a doubled quote inside a quoted field toggles twice
and changes nothing). Blocks without a quote character, the common case, are counted at C
speed; the rest through numpy. The pass also counts records, so each shard knows how many
data rows come before it (contract errors name lines as a single run would).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import IO

import numpy as np

READ_BYTES = 8 * 1024 * 1024
QUOTE, NEWLINE = ord('"'), ord("\n")


@dataclass(frozen=True)
class Shard:
    index: int
    start: int  # first byte of its first record
    end: int  # one past its last byte
    rows_before: int  # data rows in the file before `start`

    def to_json(self) -> dict:
        return asdict(self)


def _record_ends(block: bytes, quoted: bool) -> tuple[np.ndarray, bool]:
    """Offsets of the newlines that end a record in `block`, and whether it ends inside quotes."""
    if not quoted and b'"' not in block:
        data = np.frombuffer(block, dtype=np.uint8)
        return np.flatnonzero(data == NEWLINE), False
    data = np.frombuffer(block, dtype=np.uint8)
    quotes = np.cumsum(data == QUOTE) + int(quoted)
    ends = np.flatnonzero((data == NEWLINE) & (quotes % 2 == 0))
    return ends, bool(quotes[-1] % 2) if len(quotes) else quoted


def plan_shards(stream: IO[bytes], size: int, shard_bytes: int) -> tuple[int, list[Shard]]:
    """(the header's length in bytes, the shards): each about `shard_bytes` long."""
    header_end, records, position, quoted = -1, 0, 0, False
    cuts: list[tuple[int, int]] = []  # (byte offset, data rows before it)
    while True:
        block = stream.read(READ_BYTES)
        if not block:
            break
        ends, quoted = _record_ends(block, quoted)
        ends = ends + position + 1  # the offset just after each record's newline
        if header_end < 0 and len(ends):
            header_end, ends, records = int(ends[0]), ends[1:], 0
            cuts.append((header_end, 0))
        if header_end >= 0:
            target = cuts[-1][0] + shard_bytes
            while len(ends) and target <= ends[-1]:
                at = int(np.searchsorted(ends, target))
                cuts.append((int(ends[at]), records + at + 1))
                target = cuts[-1][0] + shard_bytes
            records += len(ends)
        position += len(block)
    if header_end < 0:  # no complete header line: one shard, the reader refuses the file
        return position, [Shard(0, position, position, 0)]
    starts = [c for c in cuts if c[0] < size] or cuts[:1]
    return header_end, [
        Shard(i, start, starts[i + 1][0] if i + 1 < len(starts) else size, before)
        for i, (start, before) in enumerate(starts)
    ]
