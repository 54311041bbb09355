"""The columnar read of stored profiles gives exactly what the per-row merge gives.

`segment_store` decodes and merges the `attributes` JSON with polars; the reference here is
the per-row path it replaced (`iter_contacts` + `merge_profile` + `assign` + one `Assignment`
per contact). Stored data is hostile on purpose: missing or null sources, values of the wrong
JSON type, numbers-as-text, unicode, NaN (SQLite only: PostgreSQL refuses it), odd tags and
statuses, both sources holding values.
"""

from __future__ import annotations

import gc
import random
import threading
from collections import Counter
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
import yaml
from polars.testing import assert_series_equal
from sqlalchemy import Engine

from syncd.engine import segmentation
from syncd.engine.plan import ContactView
from syncd.engine.profiles import columns
from syncd.engine.profiles.columns import iter_profile_batches, profile_batches_ahead, read_ahead
from syncd.engine.profiles.read import STATUS_KEY, TAGS_KEY, iter_contacts
from syncd.engine.segmentation import Segmented, segment_store
from syncd.segments import RuleSet, assign
from syncd.segments.evaluate import holdout_col, success_col, typed_frame
from syncd.segments.kpis import kpi_moments, merge_moments
from syncd.segments.loader import parse_mappings
from syncd.store.models import Contact
from syncd.store.types import table_of

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
WS = "w"

FIELDS = {
    "fields": {
        "city": {"type": "string", "hubspot": "city", "mailchimp": "merge_fields.CITY",
                 "prefer": "mailchimp"},
        "plan": {"type": "string", "hubspot": "plan"},
        "email_opens": {"type": "number", "hubspot": "hs_email_open", "mailchimp": "stats.o"},
        "open_rate": {"type": "number", "mailchimp": "stats.avg_open_rate"},
        "revenue": {"type": "number", "hubspot": "deals.won_amount"},
        "vip": {"type": "boolean", "hubspot": "vip", "mailchimp": "merge_fields.VIP"},
        "last_email_open": {"type": "datetime", "hubspot": "hs_email_last_open_date",
                            "mailchimp": "last_open", "prefer": "mailchimp"},
        "renewal_date": {"type": "datetime", "hubspot": "renewal_date"},
        "mailchimp_status": {"type": "string", "mailchimp": "status"},
    }
}  # fmt: skip

SEGMENTS = {
    "journey": {
        "stages": [
            {"key": "vip", "when": {"field": "vip", "eq": True}},
            {"key": "paying", "when": {"field": "plan", "in": ["pro", "Zoë", "12"]}},
            {"key": "quiet", "when": {"field": "last_email_open", "older_than_days": 30}},
        ]
    },
    "segments": [
        {"key": "berlin", "model": "behavioral", "holdout": 20,
         "when": {"field": "city", "contains": "ber"},
         "success": {"when": {"field": "vip", "eq": True}, "within": "30d"},
         "kpis": {"email_opens": {"min": 1}}},
        {"key": "openers", "model": "engagement", "holdout": 10,
         "when": {"field": "email_opens", "gte": 3},
         "success": {"when": {"field": "renewal_date", "within_days": 400}, "within": "30d"}},
        {"key": "no-vip", "model": "behavioral", "when": {"field": "vip", "exists": False}},
        {"key": "tagged", "model": "behavioral",
         "when": {"field": "mailchimp_tags", "contains": "vip"}},
        {"key": "untagged", "model": "behavioral",
         "when": {"field": "mailchimp_tags", "exists": False}},
        {"key": "renewing", "model": "behavioral", "exclusive": "r", "priority": 2,
         "when": {"field": "renewal_date", "within_days": 90}},
        {"key": "dated", "model": "behavioral", "exclusive": "r",
         "when": {"field": "last_email_open", "after": "2026-01-01"}},
        {"key": "champions", "model": "value", "when": {"field": "rfm_score", "gte": 9}},
        {"key": "engaged", "model": "engagement", "holdout": 30,
         "when": {"field": "engagement_score", "gte": 20}},
        {"key": "subscribed", "model": "behavioral",
         "when": {"field": "mailchimp_status", "eq": "subscribed"}},
        {"key": "rich", "model": "value", "when": {"field": "revenue", "between": [10, 1e9]}},
        {"key": "chain", "model": "behavioral",
         "when": {"all": [{"segment": "openers"}, {"not": {"segment": "journey/quiet"}}]}},
    ],
}  # fmt: skip

# Raw values any field may hold, of every JSON type.
VALUES: list[Any] = [
    None, "", " ", "x", "Berlin", "bErLiN ", "Zoë", "東京", "pro", "12", " 7 ", "1.5", "-3e5",
    "true", "TRUE", "Yes", "0", "no", "NaN", "2026-06-30", "2026-06-30T10:00:00Z",
    "2026-06-30T10:00:00.123+02:00", "2025-12-31T23:59:59", "20260101", "2026-02-30",
    "a\"b\\c\u2028", 12, 3, 0, -0.0, 1.5, 1e20, 2**70, 20260101, True, False, ["x"], [1, "a"],
    {"k": "v"}, {"nested": [1, 2]}, "syncd:x",
]  # fmt: skip
TAGS: list[Any] = [
    None, [], ["VIP"], ["vip", "syncd:vip"], ["syncd:only"], ["", None, "beta", 5, True, "VIP"],
    ["12"], ["true", 1.5], "vip", {"vip": 1}, [["vip"]],
]  # fmt: skip
STATUSES: list[Any] = ["subscribed", "unsubscribed", "cleaned", None, "", 5, True, "12"]
SOURCE_SHAPES = ["both", "both", "both", "hubspot", "mailchimp", "none", "null", "empty"]


def rules() -> RuleSet:
    problems: list[str] = []
    out = parse_mappings(yaml.safe_dump(FIELDS), yaml.safe_dump(SEGMENTS), problems)
    assert out is not None and not problems, problems
    return out


def hostile(rng: random.Random, *, nan: bool) -> dict[str, Any] | None:
    """One contact's stored attributes; half of them with lists, objects or NaN as values."""
    pool = [v for v in VALUES if not isinstance(v, list | dict)]
    if rng.random() < 0.5:
        pool = VALUES + ([float("nan")] * 2 if nan else [])
    names = [n for n in FIELDS["fields"] if n != "mailchimp_status"]
    shape = rng.choice(SOURCE_SHAPES)
    if shape == "null":
        return None
    if shape == "empty":
        return {}
    out: dict[str, Any] = {}
    if shape in ("both", "hubspot"):
        out["hubspot"] = {n: rng.choice(pool) for n in rng.sample(names, rng.randint(0, 8))}
    if shape in ("both", "mailchimp"):
        fields = {n: rng.choice(pool) for n in rng.sample(names, rng.randint(0, 8))}
        fields |= {"mailchimp_status": rng.choice(STATUSES), STATUS_KEY: rng.choice(STATUSES)}
        if rng.random() < 0.8:
            fields[TAGS_KEY] = rng.choice(TAGS)
        out["mailchimp"] = fields
    if shape == "none":
        out = {"hubspot": None, "mailchimp": None}
    return out


def clean(rng: random.Random) -> dict[str, Any]:
    """Attributes as the connectors store them: text from HubSpot, numbers from Mailchimp."""
    return {
        "hubspot": {
            "city": rng.choice(["Berlin", "Paris", ""]),
            "plan": rng.choice(["pro", "free"]),
            "email_opens": str(rng.randint(0, 9)),
            "vip": rng.choice(["true", "false"]),
            "renewal_date": f"2026-{rng.randint(1, 12):02d}-15T08:00:00Z",
            "revenue": rng.choice([0, 250.5, None]),
        },
        "mailchimp": {
            "open_rate": rng.random(),
            "last_email_open": "2026-06-01T10:00:00+00:00",
            STATUS_KEY: "subscribed",
            TAGS_KEY: ["vip", "syncd:x"],
        },
    }


def seed(db: Engine, n: int, seed: int) -> None:
    rng = random.Random(seed)
    nan = db.dialect.name == "sqlite"
    rows = []
    for i in range(n):
        attrs = hostile(rng, nan=nan) if i % 3 else clean(rng)
        hubspot_id = str(i) if rng.random() < 0.85 else None
        mailchimp_id = f"m{i}" if rng.random() < 0.8 else None
        rows.append({
            "workspace": WS if i % 17 else "other", "email": f"ü{i}@example.com",
            "hubspot_id": hubspot_id, "mailchimp_id": mailchimp_id, "attributes": attrs,
            "created_at": NOW, "updated_at": NOW,
        })  # fmt: skip
    with db.begin() as conn:
        conn.execute(table_of(Contact).insert(), rows)


def per_row_reference(db: Engine, rs: RuleSet, batch: int) -> Segmented:
    """`segment_store` as it was: one merged dict per contact, one `Assignment` each."""
    out = Segmented()
    out.held_out = {s.key: set() for s in rs.segments if s.holdout}
    out.succeeded = {s.key: set() for s in rs.segments if s.success}
    stored = list(iter_contacts(db, WS, rs.fields))
    for start in range(0, len(stored), batch):
        part = stored[start : start + batch]
        result = assign(rs, [c.profile for c in part], NOW, ids=[c.id for c in part])
        merge_moments(out.kpis, kpi_moments(rs, result))
        held: dict[int, set[str]] = {}
        for key, found in out.held_out.items():
            for i in result.frame[holdout_col(key)].arg_true().to_list():
                found.add(part[i].id)
                held.setdefault(i, set()).add(key)
        for key, found in out.succeeded.items():
            found.update(part[i].id for i in result.frame[success_col(key)].arg_true().to_list())
        for i, (c, a) in enumerate(zip(part, result.assignments(), strict=True)):
            segments = a.segments - held[i] if i in held else a.segments
            out.contacts.append(
                ContactView(
                    c.id,
                    c.hubspot_id,
                    c.mailchimp_id,
                    c.mailchimp_status,
                    segments,
                    a.journey_stage,
                )
            )
            out.sizes.update(a.segments)
            out.stages[a.journey_stage or "(none)"] += 1
    return out


@pytest.mark.parametrize("batch", [97, 20_000])
def test_columnar_segmentation_equals_the_per_row_merge(
    db: Engine, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db, 1200, seed=7)
    rs = rules()
    monkeypatch.setattr(segmentation, "BATCH", batch)
    got = segment_store(db, WS, rs, NOW)
    want = per_row_reference(db, rs, batch)
    assert len(got.contacts) == len(want.contacts) > 900
    for g, w in zip(got.contacts, want.contacts, strict=True):
        assert g == w, g.contact_id
    assert got.sizes == want.sizes
    assert got.stages == want.stages
    assert got.held_out == want.held_out
    assert got.succeeded == want.succeeded
    assert got.kpis == want.kpis
    assert any(got.held_out.values()) and any(got.succeeded.values())
    assert len({c.segments for c in got.contacts}) > 5


def test_every_typed_column_equals_the_per_row_merge(db: Engine) -> None:
    seed(db, 600, seed=11)
    rs = rules()
    batches = list(iter_profile_batches(db, WS, rs, 250))
    stored = list(iter_contacts(db, WS, rs.fields))
    assert [len(b) for b in batches] == [250, 250, len(stored) - 500]
    per_row = 0
    for k, b in enumerate(batches):
        part = stored[k * 250 : (k + 1) * 250]
        assert b.ids == [c.id for c in part]
        assert b.hubspot_ids == [c.hubspot_id for c in part]
        assert b.mailchimp_ids == [c.mailchimp_id for c in part]
        assert b.statuses == [c.mailchimp_status for c in part]
        want = typed_frame(rs, [c.profile for c in part], NOW)
        for col in b.typed:
            assert_series_equal(col, want[col.name])
        assert [c.name for c in b.typed] == list(rs.typed_fields)
        per_row += b.per_row
    # The hostile rows take the per-row merge, the rest do not.
    assert 0 < per_row < len(stored) * 0.8


def test_clean_rows_are_merged_without_the_per_row_path(db: Engine) -> None:
    rng = random.Random(3)
    rows = [
        {"workspace": WS, "email": f"c{i}@example.com", "hubspot_id": str(i),
         "mailchimp_id": None, "attributes": clean(rng), "created_at": NOW, "updated_at": NOW}
        for i in range(300)
    ]  # fmt: skip
    with db.begin() as conn:
        conn.execute(table_of(Contact).insert(), rows)
    rs = rules()
    (batch,) = iter_profile_batches(db, WS, rs, 1000)
    assert batch.per_row == 0
    assert len(batch) == 300
    vip = next(c for c in batch.typed if c.name == "vip")
    assert vip.dtype == pl.Boolean and vip.null_count() == 0
    assert Counter(batch.statuses) == {"subscribed": 300}


def test_the_collector_is_paused_for_the_phase_and_restored_after_it(db: Engine) -> None:
    seed(db, 300, seed=3)
    rs = rules()
    during: list[bool] = []
    assert gc.isenabled()
    segment_store(db, WS, rs, NOW, lambda views: during.append(gc.isenabled()))
    assert during and not any(during)
    assert gc.isenabled()

    def failing(views: list[ContactView]) -> None:
        raise RuntimeError("planner failed")

    with pytest.raises(RuntimeError, match="planner failed"):
        segment_store(db, WS, rs, NOW, failing)
    assert gc.isenabled()  # back on after an error too
    gc.disable()
    try:
        segment_store(db, WS, rs, NOW, lambda views: None)
        assert not gc.isenabled()  # a caller's own pause is left alone
    finally:
        gc.enable()


def test_read_ahead_keeps_order_and_raises_the_workers_error() -> None:
    def items() -> Generator[int, None, None]:
        yield from range(5)
        raise ValueError("store went away")

    got: list[int] = []
    with pytest.raises(ValueError, match="store went away"):
        got.extend(read_ahead(items()))
    assert got == [0, 1, 2, 3, 4]


def test_leaving_read_ahead_early_closes_the_source_in_its_thread() -> None:
    closed: list[str] = []

    def items() -> Generator[int, None, None]:
        try:
            yield from range(1000)
        finally:
            closed.append(threading.current_thread().name)

    ahead = read_ahead(items())
    assert [next(ahead), next(ahead)] == [0, 1]
    ahead.close()
    assert closed == ["syncd-read-ahead"]


def test_batches_decoded_ahead_come_in_order_and_equal_the_plain_read(db: Engine) -> None:
    seed(db, 600, seed=5)
    rs = rules()
    plain = list(iter_profile_batches(db, WS, rs, 50))
    ahead = list(profile_batches_ahead(db, WS, rs, 50, workers=3))
    assert [b.ids for b in ahead] == [b.ids for b in plain]
    for a, b in zip(ahead, plain, strict=True):
        assert a.statuses == b.statuses and a.per_row == b.per_row
        for x, y in zip(a.typed, b.typed, strict=True):
            assert_series_equal(x, y)


def test_a_decoding_error_reaches_the_caller_and_stops_the_read(
    db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db, 600, seed=5)
    decode = columns._Reader.batch
    calls: list[int] = []

    def failing(self: Any, ids: list[int], *rest: Any) -> Any:
        calls.append(ids[0])
        if len(calls) == 3:
            raise RuntimeError("corrupt batch")
        return decode(self, ids, *rest)

    monkeypatch.setattr(columns._Reader, "batch", failing)
    got = []
    with pytest.raises(RuntimeError, match="corrupt batch"):
        got.extend(profile_batches_ahead(db, WS, rules(), 50))
    assert len(got) == 2
    assert len(calls) < 12  # the read stopped; it did not decode the whole store
