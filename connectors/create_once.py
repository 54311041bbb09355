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

from syncd.errors import RejectedRecordError, SyncdError, error_for
from syncd.failures import Reason
from syncd.http import FindExisting, status_of

R = TypeVar("R")


def name_taken(err: SyncdError) -> bool:
    """Whether a refusal is the vendor's "that name is taken" (each connector detects it)."""
    return err.reason is Reason.NAME_TAKEN


def create_once(
    create: Callable[[FindExisting[R]], R],
    find: Callable[[], R | None],
    *,
    what: str,
    api: str,
) -> R:
    """Create a target, or adopt the one an earlier attempt of this create made.

    Call it only after a lookup by name found nothing (or the known id is gone).

    Args:
        create: Sends the create with the `FindExisting` it is given.
        find: The lookup by name; returns an answer shaped like the create's, or None.
        what: The target for messages (`HubSpot list 'syncd: vip'`).
        api: The vendor, for the advice of a refusal.

    Returns:
        The create's answer, or what `find` found after a lost answer.

    Raises:
        ConfigError: The vendor refused the create (400): its name is taken by something
            syncd did not make (`name_taken`: on a first, clean attempt, or still not found by
            name after a lost answer), or the vendor gave another reason (`create_refused`),
            which the message carries.
    """
    try:
        return create(FindExisting(find, name_taken))
    except RejectedRecordError as exc:
        if name_taken(exc):
            raise error_for(Reason.NAME_TAKEN, f"cannot create {what}: {exc}", api=api) from None
        if status_of(exc) == 400:
            refused = f"cannot create {what}: {exc}"
            raise error_for(Reason.CREATE_REFUSED, refused, api=api) from None
        raise
