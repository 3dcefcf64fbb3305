"""Strip debug symbols from extension modules without breaking the dynamic loader.

Why this needs care: manylinux wheels are repaired by auditwheel, which rewrites
RPATH/NEEDED with patchelf. On the vendored libraries in ``*.libs`` patchelf moved
segments around, and GNU ``strip`` then writes a file whose PT_LOAD segments are
no longer page-aligned: ``dlopen`` fails with "ELF load command address/offset not
page-aligned" and numpy cannot be imported. So we never touch ``*.libs``, and for
every file we do strip we re-check that loader invariant and keep the original
when the stripped copy violates it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1


def is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == ELF_MAGIC


def load_segments_aligned(path: Path) -> bool:
    """True when every PT_LOAD segment satisfies offset == vaddr (mod align).

    That is the check glibc's loader makes before mapping a segment; a file that
    fails it cannot be dlopen'ed. Only 64-bit little-endian ELF is expected here
    (Lambda x86_64); anything else is reported as not aligned so it is left alone.
    """
    data = path.read_bytes()
    if data[:4] != ELF_MAGIC or data[4] != 2 or data[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        base = phoff + index * phentsize
        (p_type,) = struct.unpack_from("<I", data, base)
        if p_type != PT_LOAD:
            continue
        p_offset, p_vaddr = struct.unpack_from("<QQ", data, base + 8)
        (p_align,) = struct.unpack_from("<Q", data, base + 48)
        if p_align > 1 and (p_offset - p_vaddr) % p_align:
            return False
    return True


def strip_extension(path: Path) -> int | None:
    """Strip ``path`` in place if that is safe.

    Returns the bytes saved, or None when the stripped copy was unusable and the
    original was kept.
    """
    before = path.stat().st_size
    candidate = path.with_name(path.name + ".stripping")
    shutil.copy2(path, candidate)
    result = subprocess.run(
        ["strip", "--strip-unneeded", str(candidate)], capture_output=True, text=True
    )
    if result.returncode != 0 or not load_segments_aligned(candidate):
        candidate.unlink()
        return None
    candidate.replace(path)
    return before - path.stat().st_size
