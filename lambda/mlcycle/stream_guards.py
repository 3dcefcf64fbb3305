"""A source's raw bytes on their way to the CSV parser, and the guards on them: NUL bytes
refused with their line and column, the header kept as written so a name given twice is
refused, lines counted so invalid UTF-8 is located by line and byte offset."""

from __future__ import annotations

import csv
import io
from typing import IO

from mlcycle.errors import DataContractError

NUL = b"\x00"
HEAD_BYTES = 64 * 1024  # kept from the start of the file: the header as written


def _first_record(head: bytes) -> tuple[list[str], int] | None:
    """The first non-blank CSV record in `head` and the line it ends on.

    The caller checks its length against the columns pandas found: a header longer than
    `head` is cut short.
    """
    reader = csv.reader(io.StringIO(head.decode("utf-8-sig", errors="replace"), newline=""))
    try:
        for record in reader:
            if len(record) > 1 or (record and record[0].strip(" \t")):  # pandas skips blanks
                return record, reader.line_num
    except csv.Error:
        return None
    return None


class GuardedStream(io.BufferedIOBase):
    """The bytes of a source on their way to the CSV parser.

    Refuses NUL bytes (pandas' C reader ends a field at NUL: `12\x0034` would be read as
    `12`), keeps the first bytes (the header as written, before pandas renames duplicate
    names to `x.1`) and counts lines, so errors can name the line of the file. Memory stays
    one block.
    """

    def __init__(self, raw: IO[bytes], file: str):
        super().__init__()
        self._raw, self._file = raw, file
        self.head = b""
        self.block = b""  # the last block handed on ...
        self.block_start = 0  # ... its position in the file ...
        self.lines_before = 0  # ... and the newlines before it

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        self.lines_before += self.block.count(b"\n")
        self.block_start += len(self.block)
        self.block = data
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        at = data.find(NUL)
        if at >= 0:
            self._refuse_nul(at)
        return data

    read1 = read

    def line_at(self, position: int) -> int:
        """The line (1-based) of a byte position within or just before the last block."""
        return (
            self.lines_before + self.block.count(b"\n", 0, max(position - self.block_start, 0)) + 1
        )

    def _refuse_nul(self, at: int) -> None:
        position = self.block_start + at
        line = self.line_at(position)
        column = None
        header = _first_record(self.head)
        if header is not None and line > header[1]:
            # The field the NUL is in: count the fields before it on its line, when the
            # line is plain (no quotes) and within this block.
            line_start = self.block.rfind(b"\n", 0, at) + 1
            prefix = self.block[line_start:at]
            if (line_start or self.block_start == 0) and b'"' not in prefix:
                index = prefix.count(b",")
                column = header[0][index] if index < len(header[0]) else None
        raise DataContractError(
            self._file,
            column,
            "no NUL bytes",
            f"NUL byte (0x00) at byte offset {position} (text has none; UTF-16 is not UTF-8)",
            [line],
        )

    def decode_error(self, exc: UnicodeDecodeError) -> tuple[str, list[int]]:
        """Where an invalid byte is in the file, from the block being decoded."""
        byte = exc.object[exc.start]
        # The decoder sees the last block, plus at most 3 bytes of a character cut before it.
        if isinstance(exc.object, bytes) and 0 <= len(exc.object) - len(self.block) <= 3:
            position = self.block_start + len(self.block) - len(exc.object) + exc.start
            return f"invalid byte 0x{byte:02x} at byte offset {position}", [self.line_at(position)]
        return f"invalid byte 0x{byte:02x} at byte {exc.start} of a read block", []


def check_unique_names(head: bytes, columns: list[str], file: str) -> None:
    """Refuse a name given twice: pandas would rename the second copy `name.1`."""
    header = _first_record(head)
    if header is None or len(header[0]) != len(columns):
        return  # not the header pandas read (longer than HEAD_BYTES): no names to compare
    names, line = header
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name.strip() == "":  # unnamed columns (trailing commas) are extra, dropped
            continue
        if name in seen:
            raise DataContractError(
                file,
                name,
                "unique column names",
                f"'{name}' names columns {seen[name]} and {position}",
                [line],
            )
        seen[name] = position
