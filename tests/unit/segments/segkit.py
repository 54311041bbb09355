"""Helpers for the segmentation tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from syncd.errors import ConfigError
from syncd.segments import Explanation, RuleSet, assign
from syncd.segments.explanation import explanations
from syncd.segments.loader import parse_mappings

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)

FIELDS: dict[str, Any] = {
    "fields": {
        "s": {"type": "string", "hubspot": "s_prop"},
        "t": {"type": "string", "mailchimp": "merge_fields.T"},
        "n": {"type": "number", "hubspot": "n_prop", "mailchimp": "stats.n", "prefer": "mailchimp"},
        "m": {"type": "number", "hubspot": "m_prop"},
        "b": {"type": "boolean", "hubspot": "b_prop"},
        "d": {"type": "datetime", "hubspot": "d_prop"},
        "e": {"type": "datetime", "hubspot": "deals.last_close"},
    }
}


def loads_mappings(fields_yaml: str, segments_yaml: str) -> RuleSet:
    """The rules from YAML text, raising `ConfigError` with every problem like `load_mappings`."""
    problems: list[str] = []
    rules = parse_mappings(fields_yaml, segments_yaml, problems)
    if problems or rules is None:
        raise ConfigError(f"mappings are invalid ({len(problems)} problems)", problems=problems)
    return rules


def ruleset(segments: list[dict[str, Any]], stages: list[dict[str, Any]] | None = None) -> RuleSet:
    """A rule set over FIELDS with these segments (and journey stages)."""
    doc: dict[str, Any] = {"segments": segments}
    if stages is not None:
        doc["journey"] = {"stages": stages}
    return loads_mappings(yaml.safe_dump(FIELDS), yaml.safe_dump(doc, sort_keys=False))


def seg(key: str, when: Any, **extra: Any) -> dict[str, Any]:
    """One behavioral segment entry of segments.yaml."""
    return {"key": key, "model": "behavioral", "when": when, **extra}


def one(when: dict[str, Any], **extra: Any) -> RuleSet:
    """A rule set with a single segment `x` using `when`."""
    return ruleset([{"key": "x", "model": "behavioral", "when": when, **extra}])


def assigned(
    rs: RuleSet, contacts: list[dict[str, Any]]
) -> list[tuple[str | None, frozenset[str]]]:
    """Assignments from `assign`, asserting `explain` reaches the same verdicts."""
    got = [(a.journey_stage, a.segments) for a in assign(rs, contacts, NOW).assignments()]
    assert [verdicts(e) for e in explanations(rs, contacts, NOW)] == got
    return got


def verdicts(ex: Explanation) -> tuple[str | None, frozenset[str]]:
    """An explanation's journey stage and member segments, shaped like an `Assignment`."""
    return ex.journey_stage, frozenset(v.key for v in ex.segments if v.member)
