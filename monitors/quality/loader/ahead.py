"""Reading ahead: the next chunk of a file is parsed and validated in a thread while the database stores the
current one. pandas' parser and numpy release the GIL for most of their work, and the caller spends its time
waiting for PostgreSQL, so the two overlap on two cores (docs/scaling.md)."""

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")

_DONE = object()
POLL_SECONDS = 0.1
# The reader is stopped between chunks; one chunk of QUALITY_LOAD_CHUNK_ROWS takes well under a second to read.
STOP_DEADLINE_SECONDS = 30.0


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def read_ahead(items: Iterable[Item], depth: int = 1) -> Iterator[Item]:
    """`items` in order, produced by a thread that stays up to `depth` items ahead of the caller. An exception
    raised while producing is raised here, after the items produced before it. Closing the iterator early stops
    the thread at its next item."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as error:  # handed to the caller's thread, raised there
            offer(_Failed(error))
            return
        offer(_DONE)

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = _next(ready, thread)
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(STOP_DEADLINE_SECONDS)


def _next(ready: queue.Queue, thread: threading.Thread):
    """The next item; waits as long as the thread lives (it always ends by offering an item, its failure or
    the end), not for ever should it have died without a word."""
    while True:
        try:
            return ready.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not thread.is_alive() and ready.empty():
                raise RuntimeError("the read-ahead thread ended without finishing the file") from None
