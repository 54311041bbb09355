"""Changes: the compact list a plan keeps; it must read back exactly what went in."""

from __future__ import annotations

import pytest

from syncd.engine.changes import Action, Change, Changes


def _sample() -> list[Change]:
    return [
        Change("hubspot_list:vip", 7, Action.ADD, "rule segments/vip matched"),
        Change("mailchimp_tag:vip", 7, Action.REMOVE, "rule segments/vip no longer matches"),
        Change("hubspot_property:syncd", 2**40, Action.SET, "stage is now lead", '{"a": "é"}'),
        Change("hubspot_list:vip", 9, Action.ADD, "rule segments/vip matched"),
    ]


def test_reads_back_every_field_in_order() -> None:
    changes = Changes()
    for change in _sample():
        changes.append(change)
    assert len(changes) == 4
    assert list(changes) == _sample()
    assert changes[2] == _sample()[2] and changes[-1] == _sample()[-1]
    assert changes[1:3] == _sample()[1:3]
    assert changes == _sample() and changes == Changes(_sample())
    assert changes != _sample()[:3] and changes != [*_sample()[:3], _sample()[0]]
    with pytest.raises(IndexError):
        changes[4]


def test_empty_equals_an_empty_list() -> None:
    assert Changes() == []
    assert not Changes()
    assert list(Changes()) == []
