"""SeenIds: the record ids a full pull saw, as hashes; what it says is missing must be exact."""

from __future__ import annotations

import random

from syncd.engine.profiles.seen import SeenIds


def test_missing_names_exactly_the_ids_never_added_in_their_order() -> None:
    rng = random.Random(5)
    stored = [f"{rng.getrandbits(128):032x}" for _ in range(5000)] + [str(i) for i in range(5000)]
    seen = SeenIds()
    kept = set(rng.sample(stored, 9000))
    for record_id in stored:
        if record_id in kept:
            seen.add(record_id)
    seen.add("an id the store never had")
    assert len(seen) == 9001
    assert seen.missing(stored) == [r for r in stored if r not in kept]


def test_an_empty_pull_saw_nothing() -> None:
    seen = SeenIds()
    assert not seen
    assert seen.missing(["1", "2"]) == ["1", "2"]
    assert seen.missing([]) == []
