"""The YAML that people write for syncd (`syncd.yaml`, the mappings), parsed strictly.

PyYAML keeps the last of two equal keys in a mapping without a word, so a second `safety:`
block would silently replace a careful 5% guard with the defaults. Every file syncd reads from
a person goes through `parse_yaml`, which reports each repeated key with its path and the lines
of both occurrences, so the config and the mappings refuse duplicates in the same words.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with an impossible date (`2025-13-45`) as a located problem.

    PyYAML resolves an unquoted `2025-13-45` as a timestamp and then fails inside Python's
    `date` with a bare ValueError that names no line; here it becomes a YAML error at the
    value's line, reported like any syntax error.
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date or datetime; an impossible one is a `ConstructorError` with its line."""
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{node.value!r} is not a real date (quote it if it is meant as text)",
                node.start_mark,
            ) from None


_Loader.add_constructor(_TIMESTAMP_TAG, _Loader.construct_yaml_timestamp)


def parse_yaml(text: str, filename: str, problems: list[str]) -> Any:
    """Parse one YAML document; syntax errors and duplicate keys are added to `problems`.

    Duplicates do not stop parsing: the data (with the later value, as PyYAML builds it) is
    returned, so a caller can go on validating and report every problem in one go.

    Args:
        text: The document.
        filename: How problems name the file (`syncd.yaml`, `mappings/segments.yaml`).
        problems: Receives `FILE: line N: not valid YAML (...)` or
            `FILE: KEY.PATH: duplicate key (lines A and B)`.

    Returns:
        The data; None for an empty document or one that is not valid YAML.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems.extend(f"{filename}: {d}" for d in duplicate_keys(loader, node))
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "syntax"
        problems.append(f"{filename}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})")
        return None
    except RecursionError:
        problems.append(f"{filename}: nested too deeply to read (simplify the structure)")
        return None
    finally:
        loader.dispose()


def duplicate_keys(loader: yaml.SafeLoader, root: yaml.Node) -> list[str]:
    """Every key that repeats within one mapping of the tree under `root`, at any depth.

    Keys compare as the values they load as (`1` and `0x1` are the same key, as in the loaded
    dict). Merge keys (`<<: *defaults`) are how YAML overrides on purpose, so what they bring
    in is not a duplicate.

    Returns:
        `PATH: duplicate key (lines A and B)`, where PATH is the key's dotted path with list
        indexes (`segments[3].when`) and A is the line of the first occurrence.
    """
    found: list[str] = []
    _walk(loader, root, "", found, set())
    return found


def _walk(
    loader: yaml.SafeLoader, node: yaml.Node, path: str, found: list[str], seen: set[int]
) -> None:
    if id(node) in seen:  # an alias: its anchor was (or will be) checked where it is defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, f"{path}[{i}]", found, seen)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Hashable, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                _walk(loader, value_node, path, found, seen)
                continue
            usable, key = _key(loader, key_node)
            key_path = f"{path}.{key}" if path else str(key)
            line = key_node.start_mark.line + 1
            if usable and key in first_line:
                found.append(f"{key_path}: duplicate key (lines {first_line[key]} and {line})")
            elif usable:
                first_line[key] = line
            _walk(loader, value_node, key_path, found, seen)


def _key(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[bool, Hashable]:
    """`(True, key)` as the loaded dict will hold it.

    `(False, text)` for a key that is not a scalar (PyYAML refuses those itself, with its own
    message).
    """
    if not isinstance(node, yaml.ScalarNode):
        return False, "?"
    value = loader.construct_object(node)
    return (True, value) if isinstance(value, Hashable) else (False, str(value))
