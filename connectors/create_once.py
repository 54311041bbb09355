"""Creating a list or tag syncd owns once, even when the create's answer is lost.

Both connectors create their targets the same way: `ensure_target` has already looked the name
up and found nothing, so the create is sent with a `FindExisting` (the same lookup, plus the
vendor's "name taken" answer). When the first create was applied but its answer was lost, the
retry policy finds that object by name and returns it instead of sending a second create. What
is left to decide here is what a refusal means for the person running syncd.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from syncd.errors import ConfigError, RejectedRecordError, SyncdError
from syncd.http import FindExisting, status_of

R = TypeVar("R")


def create_once(
    create: Callable[[FindExisting[R]], R],
    find: Callable[[], R | None],
    already_exists: Callable[[SyncdError], bool],
    *,
    what: str,
    taken_hint: str,
) -> R:
    """Create a target, or adopt the one an earlier attempt of this create made.

    Call it only after a lookup by name found nothing (or the known id is gone).

    Args:
        create: Sends the create with the `FindExisting` it is given.
        find: The lookup by name; returns an answer shaped like the create's, or None.
        already_exists: Whether a refusal is the vendor's "that name is taken" answer.
        what: The target for messages (`HubSpot list 'syncd: vip'`).
        taken_hint: Advice for a name held by something syncd did not make.

    Returns:
        The create's answer, or what `find` found after a lost answer.

    Raises:
        ConfigError: The vendor refused the create (400): its name is taken by something
            syncd did not make (on a first, clean attempt, or still not found by name after a
            lost answer), or the vendor gave another reason, which the message carries.
    """
    try:
        return create(FindExisting(find, already_exists))
    except RejectedRecordError as exc:
        if already_exists(exc):
            raise ConfigError(f"cannot create {what}: {exc}", hint=taken_hint) from None
        if status_of(exc) == 400:
            raise ConfigError(
                f"cannot create {what}: {exc}",
                hint="the API refused the create for the reason it gives",
            ) from None
        raise
