"""Bounded producer threads: drain iterators in the background, consume them in one place.

The pull runs each connector on its own thread (their rate limits are independent) while one
thread stores pages in arrival order; HubSpot's list paging runs one page ahead of the deal and
company reads for the pages before it. Both are this one helper: every source is iterated on
a daemon thread into one bounded queue, so at most `depth` items wait in memory whatever the
audience size, and the consumer gets them in arrival order.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")
_POLL_S = 0.1  # how often a blocked producer checks whether the consumer went away


class _Item(Generic[T]):
    """One message from a producer: an item, its end (`done`), or its error."""

    __slots__ = ("done", "error", "name", "value")

    def __init__(
        self,
        name: str,
        value: T | None = None,
        *,
        done: bool = False,
        error: BaseException | None = None,
    ) -> None:
        self.name = name
        self.value = value
        self.done = done
        self.error = error


def drain(
    sources: Mapping[str, Iterable[T]],
    depth: int,
    *,
    on_done: Callable[[str], None] | None = None,
    on_error: Callable[[str, BaseException], bool] | None = None,
    thread_prefix: str = "producer",
) -> Iterator[tuple[str, T]]:
    """Yield `(source name, item)` from every source, each iterated on its own thread.

    Args:
        sources: Name -> iterable; iterated lazily on its thread (a generator does its I/O
            there, not in the caller).
        depth: Items that may wait in the queue (all sources together).
        on_done: Called in the consumer's thread when a source is exhausted.
        on_error: Called in the consumer's thread with a source's error; returning True
            isolates it (that source ends, the others go on) instead of raising it.
        thread_prefix: Thread names are `<prefix>-<source name>`.

    Raises:
        BaseException: The first error any source raised that `on_error` did not isolate, in
            the consumer's thread; the other producers stop after their current item.
    """
    box: queue.Queue[_Item[T]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_produce, args=(n, s, box, stop), name=f"{thread_prefix}-{n}", daemon=True
        )
        for n, s in sources.items()
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = box.get()
            if item.error is not None:
                if on_error is None or not on_error(item.name, item.error):
                    raise item.error
                running -= 1
                continue
            if item.done:
                running -= 1
                if on_done is not None:
                    on_done(item.name)
                continue
            yield item.name, item.value  # type: ignore[misc]  # not done, so a source's T
    finally:
        stop.set()
        # A producer may be inside its source (an HTTP call); it stops at its next item.
        # Waiting for it means no source is still running once the consumer has left.
        for thread in threads:
            thread.join()


def _produce(
    name: str, source: Iterable[T], box: queue.Queue[_Item[T]], stop: threading.Event
) -> None:
    """Iterate `source` into `box` until it ends, fails, or the consumer leaves (`stop`)."""
    try:
        for value in source:
            if not _put(box, _Item(name, value), stop):
                return
        _put(box, _Item(name, done=True), stop)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises
        _put(box, _Item(name, error=exc), stop)


def _put(box: queue.Queue[_Item[T]], item: _Item[T], stop: threading.Event) -> bool:
    """Put `item` once there is room; False when the consumer left first."""
    while not stop.is_set():
        try:
            box.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def prefetch(source: Iterable[T], depth: int, name: str = "prefetch") -> Iterator[T]:
    """`source`'s items, produced by one daemon thread up to `depth` items ahead."""
    for _, value in drain({name: source}, depth, thread_prefix="prefetch"):
        yield value
