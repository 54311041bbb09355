"""Run a page generator one step ahead in a background thread.

HubSpot list paging is sequential (each page names the next), while deal and company reads for
earlier pages can go at the same time; overlapping the two keeps the rate budget busy from the
first second. The queue is bounded, so at most `depth` pages wait in memory.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer went away


def prefetch(source: Iterator[T], depth: int, name: str = "prefetch") -> Iterator[T]:
    """Yield `source`'s items, produced by a daemon thread up to `depth` items ahead.

    An exception in `source` is raised here, in the consumer. Closing this generator early
    stops the producer after its current item.
    """
    box: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                box.put((kind, value), timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in source:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
            put("error", exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "done":
                return
            if kind == "error":
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]  # items are the source's T
    finally:
        stop.set()
