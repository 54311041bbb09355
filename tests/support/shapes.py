"""A small language for the JSON shapes a client reads, and a checker that lists every mismatch.

A shape is a Python type (or tuple of types) a value must be an instance of; a dict of keys to
shapes (a key starting with `?` may be absent; the key `*` gives the shape of every value of a
map); a one-item list giving the shape of every item; or `OneOf(...)` for an enumeration.
Keys a shape does not name are allowed: a shape states what is read, not all that is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OneOf:
    """A string out of a fixed set (an enum of the spec)."""

    values: frozenset[str]

    @classmethod
    def of(cls, *values: str) -> OneOf:
        """The enumeration of `values`."""
        return cls(frozenset(values))


def mismatches(value: Any, shape: Any, path: str = "$") -> list[str]:
    """Every way `value` fails `shape`, each as `path: problem` (empty when it fits)."""
    if isinstance(shape, OneOf):
        if value not in shape.values:
            return [f"{path}: {value!r} is not one of {sorted(shape.values)}"]
        return []
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{path}: expected an array, got {type(value).__name__}"]
        return [
            p for i, item in enumerate(value) for p in mismatches(item, shape[0], f"{path}[{i}]")
        ]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        out: list[str] = []
        for key, sub in shape.items():
            if key == "*":
                for k, v in value.items():
                    out.extend(mismatches(v, sub, f"{path}.{k}"))
                continue
            name = key.lstrip("?")
            if name not in value:
                if not key.startswith("?"):
                    out.append(f"{path}.{name}: missing")
                continue
            out.extend(mismatches(value[name], sub, f"{path}.{name}"))
        return out
    if isinstance(value, bool) and shape in (int, float, (int, float)):
        return [f"{path}: expected {shape}, got a boolean"]
    if not isinstance(value, shape):
        return [f"{path}: expected {shape}, got {type(value).__name__} {value!r:.40}"]
    return []
