"""Load errors name the file, the key path and what was expected, and all come at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from segkit import FIELDS, loads_mappings, one, ruleset, seg

from syncd.errors import ConfigError
from syncd.segments import FieldType, load_mappings
from syncd.targets import TargetKind, TargetRef

MAPPINGS = Path(__file__).resolve().parents[3] / "mappings"

CONTRACT_FIELDS = (  # noqa: SIM905 - reads like the contract text
    "email first_name last_name lifecycle_stage lead_status country city job_title created_at "
    "email_opens email_clicks last_email_open page_views conversions open_rate click_rate "
    "member_rating mailchimp_status language trial_started_at plan renewal_date deals_won "
    "revenue industry company_size"
).split()


def problems(
    segments: list[dict[str, Any]], stages: list[dict[str, Any]] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as info:
        ruleset(segments, stages)
    return info.value.problems


def test_default_mappings_load_with_the_contract_fields() -> None:
    rs = load_mappings(MAPPINGS)
    assert set(CONTRACT_FIELDS) <= set(rs.fields)
    assert rs.fields["lifecycle_stage"].hubspot.path == "lifecyclestage"  # type: ignore[union-attr]
    assert rs.fields["revenue"].hubspot.association == "deals"  # type: ignore[union-attr]
    assert rs.fields["open_rate"].type is FieldType.NUMBER
    hubspot = [f.hubspot for f in rs.fields.values() if f.hubspot]
    contact_props = [s.path for s in hubspot if s.association is None]
    assert "hs_email_open" in contact_props
    assert "deals.won_count" not in contact_props
    company = [s.path for s in hubspot if s.association == "company"]
    assert company == ["company.industry", "company.numberofemployees"]
    assert "stats.avg_open_rate" in [f.mailchimp.path for f in rs.fields.values() if f.mailchimp]
    goals = {s.goal for s in rs.segments if s.goal}
    assert len(goals) == 9
    models = {s.model for s in rs.segments}
    assert len(models) == 10
    targeted = [s for s in rs.segments if s.targets.hubspot_list or s.targets.mailchimp_tag]
    assert 8 <= len(targeted) <= 12
    assert [s.key for s in rs.stages][:2] == ["churned", "at-risk"]


def test_unknown_field_names_file_path_and_known_fields() -> None:
    [p] = problems([seg("a", {"all": [{"field": "n", "gt": 1}, {"field": "opn_rate", "gt": 1}]})])
    assert p.startswith("segments.yaml: segments[0].when.all[1].field: unknown field 'opn_rate'")
    assert "(known: b, d, e, m, n, s, t, recency_days, " in p  # then the built-in fields


def test_all_problems_reported_at_once() -> None:
    found = problems(
        [
            seg("a", {"field": "s", "gte": 3}),  # gte on a string
            seg("b", {"field": "n", "within_days": 3}),  # within_days on a number
            seg("c", {"segment": "nope"}),  # unknown reference
            seg("d", {"field": "n", "gt": 1, "lt": 5}),  # two operators
            seg("e", {"field": "n", "gt": "1"}),  # operand of the wrong type
            seg("f", {"any": [{"field": "s", "eq": "x", "colour": "red"}]}),  # unknown operator
            seg("g", {"every": []}),  # unknown combinator
            {"key": "h", "model": "behavioral", "when": {"always": True}, "colour": "red"},
            {"key": "Bad_Key", "model": "behavioral", "when": {"always": True}},
            {"key": "i", "model": "goal", "when": {"always": True}},  # goal without goal:
        ]
    )
    joined = "\n".join(found)
    assert "segments[0].when.gte: operator 'gte' does not apply to string field 's'" in joined
    assert "segments[1].when.within_days: operator 'within_days' does not apply to number" in joined
    assert "segments[2].when.segment: unknown segment 'nope'" in joined
    assert "segments[3].when: expected exactly one operator next to 'field', got 2" in joined
    assert "segments[4].when.gt: expected a number, got text '1'" in joined
    assert "segments[5].when.any[0]: unknown operator 'colour'" in joined
    assert "segments[6].when: unknown key 'every'" in joined
    assert "segments[7]: unknown key 'colour' (known: key, description" in joined
    assert "segments[8].key: key 'Bad_Key' must be lowercase kebab-case" in joined
    assert "segments[9]: model 'goal' needs 'goal:'" in joined
    assert all(p.startswith("segments.yaml: ") for p in found)


def test_duplicate_segment_and_yaml_keys() -> None:
    found = problems([seg("a", {"always": True}), seg("a", {"always": False})])
    assert found == ["segments.yaml: segments[1].key: duplicate segment 'a' (first at segments[0])"]
    text = (
        "segments:\n  - key: a\n    model: value\n"
        "    when: {always: true}\n    when: {always: false}\n"
    )
    with pytest.raises(ConfigError) as info:
        loads_mappings(yaml.safe_dump(FIELDS), text)
    assert info.value.problems == ["segments.yaml: segments[0].when: duplicate key (lines 4 and 5)"]


def test_reference_cycles() -> None:
    found = problems(
        [seg("a", {"segment": "b"}), seg("b", {"segment": "c"}), seg("c", {"segment": "a"})]
    )
    assert len(found) == 1
    assert "reference cycle: segment:a -> segment:b -> segment:c -> segment:a" in found[0]
    # the journey counts as one unit: a stage using a segment that uses the journey is a cycle
    found = problems(
        [seg("a", {"segment": "journey/s1"})], stages=[{"key": "s1", "when": {"segment": "a"}}]
    )
    assert "reference cycle: journey -> segment:a -> journey" in found[0]


def test_self_reference_inside_an_exclusive_group() -> None:
    found = problems(
        [
            seg("a", {"always": True}, exclusive="g", priority=2),
            seg("b", {"not": {"segment": "a"}}, exclusive="g", priority=1),
        ]
    )
    assert found == [
        "segments.yaml: segments[1].when.not.segment: refers to 'a' in its own exclusive group "
        "'g'; membership there depends on this segment"
    ]


def test_unknown_journey_stage_and_bad_dates() -> None:
    found = problems(
        [seg("a", {"segment": "journey/nope"}), seg("b", {"field": "d", "before": "soon"})],
        stages=[{"key": "s1", "when": {"always": True}}],
    )
    joined = "\n".join(found)
    assert "segments[0].when.segment: unknown journey stage 'nope' (known: s1)" in joined
    assert "segments[1].when.before: expected an ISO date, got text 'soon'" in joined


def test_fields_file_errors(tmp_path: Path) -> None:
    (tmp_path / "fields.yaml").write_text(
        "fields:\n  a: {type: text, hubspot: x}\n  b: {type: number}\n"
        "  c: {type: number, hubspot: x, prefer: mailchimp}\n  d: {type: string, hubspot: deal.x}\n"
    )
    (tmp_path / "segments.yaml").write_text("segments: []\n")
    with pytest.raises(ConfigError) as info:
        load_mappings(tmp_path)
    found = info.value.problems
    name = str(tmp_path / "fields.yaml")
    assert found[0].startswith(f"{name}: fields.a.type: Input should be 'string'")
    assert found[1] == f"{name}: fields.b: needs a source: 'hubspot', 'mailchimp' or both"
    assert found[2] == f"{name}: fields.c: prefer: 'mailchimp' has no source on this field"
    assert "fields.d.hubspot: dotted sources must start with 'deals.' or 'company.'" in found[3]


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    (tmp_path / "fields.yaml").write_text("fields: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_mappings(tmp_path)
    assert any("fields.yaml: line" in p and "not valid YAML" in p for p in info.value.problems)
    assert any("segments.yaml: cannot read" in p for p in info.value.problems)


def test_where_and_targets_default() -> None:
    rs = one({"always": True})
    s = rs.segment_by_key["x"]
    assert s.where == "segments.yaml: segments[0]"  # what audit reasons and messages cite
    assert (s.targets.hubspot_list, s.targets.mailchimp_tag) == (False, False)
    # the namespaced names syncd owns for this segment (built by the engine from the key)
    assert TargetRef(TargetKind.HUBSPOT_LIST, s.key).remote_name == "syncd: x"
    assert TargetRef(TargetKind.MAILCHIMP_TAG, s.key).remote_name == "syncd:x"
