"""Keep scoring's memory flat: pandas leaves each chunk's frames in reference cycles, which
only a full garbage collection frees, and numpy-heavy work allocates too few Python objects
to trigger one: measured, cyclic garbage of earlier chunks (their strings) made peak RSS grow
about 40 MB per million rows. So the reader collects after every chunk; with everything that
lived before the batch frozen (left out of collections), that costs milliseconds, not the
70 ms a full collection over the loaded libraries takes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = 0  # depth of frozen_heap() blocks: chunks are collected only inside one


@contextmanager
def frozen_heap() -> Iterator[None]:
    """While scoring a batch: what exists now is left out of collections (unfrozen after, so
    it is collected as usual again: garbage frozen with it waits, it is not lost)."""
    global _frozen
    gc.freeze()
    _frozen += 1
    try:
        yield
    finally:
        _frozen -= 1
        if not _frozen:
            gc.unfreeze()


def collect() -> None:
    """Free the cycles a chunk left behind, when scoring (elsewhere, with nothing frozen, a
    collection would walk every live object: training reading many small files, the monitor,
    a test suite's process)."""
    if _frozen:
        gc.collect()
