"""Strict YAML for files people write: duplicate keys are refused at any depth, by path."""

from __future__ import annotations

import pytest

from syncd.yamlfile import parse_yaml


def parsed(text: str) -> tuple[object, list[str]]:
    problems: list[str] = []
    return parse_yaml(text, "f.yaml", problems), problems


def test_duplicates_inside_lists_name_the_item() -> None:
    text = "segments:\n  - key: a\n    when: {always: true}\n  - key: b\n    key: c\n"
    data, problems = parsed(text)
    assert problems == ["f.yaml: segments[1].key: duplicate key (lines 4 and 5)"]
    assert data == {"segments": [{"key": "a", "when": {"always": True}}, {"key": "c"}]}


def test_keys_compare_as_loaded_values() -> None:
    # `1` and `0x1` both load as the int 1: the dict would keep only one of them.
    _, problems = parsed("a:\n  1: x\n  0x1: y\n")
    assert problems == ["f.yaml: a.1: duplicate key (lines 2 and 3)"]


def test_a_third_occurrence_is_reported_against_the_first() -> None:
    _, problems = parsed("k: 1\nk: 2\nk: 3\n")
    assert problems == [
        "f.yaml: k: duplicate key (lines 1 and 2)",
        "f.yaml: k: duplicate key (lines 1 and 3)",
    ]


def test_anchors_are_checked_once_where_defined() -> None:
    text = "base: &b {x: 1, x: 2}\nuse1: *b\nuse2:\n  <<: *b\n  x: 3\n"
    _, problems = parsed(text)
    assert problems == ["f.yaml: base.x: duplicate key (lines 1 and 1)"]


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_document_is_none_without_problems(text: str) -> None:
    assert parsed(text) == (None, [])


def test_syntax_errors_name_the_line() -> None:
    data, problems = parsed("a: 1\nb: [\n")
    assert data is None
    assert len(problems) == 1 and problems[0].startswith("f.yaml: line 3: not valid YAML (")


def test_only_safe_tags_load() -> None:
    data, problems = parsed("a: !!python/object/apply:os.system ['true']\n")
    assert data is None
    assert problems and "not valid YAML" in problems[0]
