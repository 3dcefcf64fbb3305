"""Vectorised CSV encoding for the 10M-row benchmark files.

`DataFrame.to_csv` formats cell by cell and would dominate the time of writing a
10M-row benchmark batch. Here every field becomes a fixed-width block of ASCII bytes
in one (rows, width) uint8 matrix, with unused positions left as NUL bytes; dropping
the NULs yields the CSV text. No per-row Python code runs, and memory stays at a few
bytes per cell of the chunk being encoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_PAD = 0  # NUL: never valid in our CSV, removed before writing
_COMMA, _NEWLINE, _ZERO = ord(","), ord("\n"), ord("0")


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as right-aligned decimal digits without leading zeros."""
    rest = values.astype(np.int64, copy=True)
    out = np.empty((len(values), width), np.uint8)
    for position in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        out[:, position] = digit + _ZERO
    if (rest != 0).any():
        raise ValueError(f"value does not fit in {width} digits")
    for position in range(width - 1):  # blank leading zeros; keep the last digit
        out[values < 10 ** (width - 1 - position), position] = _PAD
    return out


def text_table(strings: Sequence[str]) -> np.ndarray:
    """A (len(strings), max_len) byte table; index it with codes to encode a column."""
    width = max(len(s) for s in strings)
    table = np.full((len(strings), width), _PAD, np.uint8)
    for row, text in enumerate(strings):
        table[row, : len(text)] = np.frombuffer(text.encode("ascii"), np.uint8)
    return table


def encode_rows(fields: Sequence[np.ndarray]) -> bytes:
    """Join per-field byte blocks (each (rows, width) uint8) into CSV lines."""
    rows = len(fields[0])
    matrix = np.full((rows, sum(f.shape[1] for f in fields) + len(fields)), _PAD, np.uint8)
    column = 0
    for field in fields:
        matrix[:, column : column + field.shape[1]] = field
        column += field.shape[1]
        matrix[:, column] = _COMMA
        column += 1
    matrix[:, -1] = _NEWLINE  # the last separator ends the line
    return matrix[matrix != _PAD].tobytes()
