"""Run an iterator one step ahead in a thread, so producing the next item overlaps consuming
this one.

Scoring reads and checks the next chunk while the model predicts the current one: the CSV
parser and the model's Cython both release the GIL for much of their work, so on more than
one vCPU the two overlap (on one they only interleave). At most `depth` items wait, so memory
stays bounded; an error in the producer is raised in the consumer at the item it failed on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    waiting: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close:  # a generator left early runs its clean-up here, not at some later GC
                close()

    worker = threading.Thread(target=produce, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = waiting.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()  # a consumer that stops early releases the producer
        worker.join()
