"""The field catalogue: source preference as the engine's merge applies it."""

from __future__ import annotations

from segkit import one

from syncd.engine.profiles.identity import merge_fields
from syncd.segments import FieldDef, Source


def test_merge_applies_prefer_and_falls_back() -> None:
    rs = one({"always": True})
    fm = rs.fields
    assert isinstance(fm["n"], FieldDef)
    # `prefer` orders a field's sources; the engine's merge takes the first one with a value.
    assert [s.system for s in fm["n"].sources()] == [Source.MAILCHIMP, Source.HUBSPOT]
    assert [s.system for s in fm["e"].sources()] == [Source.HUBSPOT]
    prefer = {name: str(f.sources()[0].system) for name, f in fm.items() if f.sources()}
    merged = merge_fields(
        {"hubspot": {"s": "a", "n": "1", "e": "2026-01-01"}, "mailchimp": {"n": 2, "t": ""}},
        prefer,
    )
    assert merged == {"s": "a", "n": 2, "e": "2026-01-01"}
    assert merge_fields({"hubspot": {"n": "1"}, "mailchimp": {}}, prefer) == {"n": "1"}
    assert merge_fields({"hubspot": None, "mailchimp": None}, prefer) == {}
