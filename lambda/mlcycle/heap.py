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


@contextmanager
def frozen_heap() -> Iterator[None]:
    """While scoring a batch: what exists now is left out of collections (unfrozen after, so
    a warm container's later garbage is collected as usual)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def collect() -> None:
    """Free the cycles a chunk left behind."""
    gc.collect()
