"""Planned changes, and the compact list a plan keeps them in.

A first run at a million contacts plans several million changes. As objects they cost about
80 bytes each (hundreds of MB); `Changes` keeps each as five array slots (19 bytes), with the
few distinct targets, reasons and values stored once, and hands out `Change` objects on
reading. Anything that takes a sequence of changes takes it: it is a `Sequence[Change]`.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import overload


class Action(enum.StrEnum):
    """What one planned change does."""

    ADD = "add"
    REMOVE = "remove"
    SET = "set"


@dataclass(frozen=True, slots=True)
class Change:
    """One remote change syncd intends to make."""

    target: str
    contact_id: int
    action: Action
    reason: str
    value: str | None = None


_ACTIONS = list(Action)
_ACTION_INDEX = {a: i for i, a in enumerate(_ACTIONS)}


class Changes(Sequence[Change]):
    """An append-only list of changes, stored column by column.

    Args:
        changes: Changes to start with.
    """

    def __init__(self, changes: Iterable[Change] = ()) -> None:
        self._strings: list[str | None] = [None]
        self._index: dict[str | None, int] = {None: 0}
        self._target = array("I")
        self._contact = array("q")
        self._action = array("B")
        self._reason = array("I")
        self._value = array("I")
        for change in changes:
            self.append(change)

    def _intern(self, text: str | None) -> int:
        at = self._index.get(text)
        if at is None:
            at = self._index[text] = len(self._strings)
            self._strings.append(text)
        return at

    def append(self, change: Change) -> None:
        """Add one change at the end."""
        self._target.append(self._intern(change.target))
        self._contact.append(change.contact_id)
        self._action.append(_ACTION_INDEX[change.action])
        self._reason.append(self._intern(change.reason))
        self._value.append(self._intern(change.value))

    def __len__(self) -> int:
        return len(self._contact)

    def _at(self, i: int) -> Change:
        s = self._strings
        target, reason = s[self._target[i]], s[self._reason[i]]
        assert target is not None and reason is not None
        return Change(
            target, self._contact[i], _ACTIONS[self._action[i]], reason, s[self._value[i]]
        )

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...

    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("change index out of range")
        return self._at(index)

    def __iter__(self) -> Iterator[Change]:
        return (self._at(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"Changes({list(self)!r})"
