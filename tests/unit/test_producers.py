"""Bounded producer threads: items arrive, errors reach the consumer, leaving stops producers."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from syncd.producers import drain, prefetch


def _counting(n: int, produced: list[int], fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise RuntimeError(f"source failed at {i}")
        produced.append(i)
        yield i


def test_every_item_of_every_source_arrives_and_each_end_is_reported() -> None:
    done: list[str] = []
    got = list(drain({"a": range(50), "b": range(30)}, 4, on_done=done.append))
    assert sorted(v for n, v in got if n == "a") == list(range(50))
    assert sorted(v for n, v in got if n == "b") == list(range(30))
    assert [v for n, v in got if n == "a"] == list(range(50))  # each source keeps its order
    assert sorted(done) == ["a", "b"]


def test_a_source_error_is_raised_in_the_consumer() -> None:
    produced: list[int] = []
    with pytest.raises(RuntimeError, match="failed at 3"):
        list(drain({"x": _counting(10, produced, fail_at=3)}, 2))
    assert produced == [0, 1, 2]


def test_leaving_early_stops_the_producer_within_the_queue_bound() -> None:
    produced: list[int] = []
    stream = prefetch(_counting(10_000, produced), depth=3, name="leave-early")
    assert next(stream) == 0
    assert [t for t in threading.enumerate() if t.name == "prefetch-leave-early"]
    stream.close()  # joins the producer, which stops at its next item
    assert len(produced) <= 1 + 3 + 2  # the one consumed, the queue, one blocked, one more
    # Only this test's producer: other tests' pulls may leave theirs to the collector.
    assert not [t for t in threading.enumerate() if t.name == "prefetch-leave-early"]


def test_no_source_means_no_item() -> None:
    assert list(drain({}, 4)) == []
