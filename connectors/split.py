"""Send a batch and get one outcome per member, splitting the batch when the vendor refuses it.

A 400/413 on a whole batch usually means one bad record (or a batch too large); halving until
the record is alone keeps every good record applied and names the bad one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from connectors.base import MemberOutcome
from syncd.errors import ConfigError, RejectedRecordError, SyncdError, TransientError
from syncd.failures import Reason
from syncd.http import status_of

T = TypeVar("T")
SPLIT_STATUSES = frozenset({400, 413, 414, 422})


def send_split(
    items: Sequence[T],
    send: Callable[[list[T]], list[MemberOutcome]],
    key: Callable[[T], tuple[str, str]],
) -> list[MemberOutcome]:
    """`send(items)`, turning failures into per-member outcomes.

    Args:
        items: The batch.
        send: Makes the call; returns an outcome per member.
        key: `(remote_id, action)` of an item, for outcomes of a failed call.

    Raises:
        ConfigError: A person must act; nothing more can be sent.
    """
    batch = list(items)
    if not batch:
        return []
    try:
        return send(batch)
    except ConfigError:
        raise
    except TransientError as exc:
        return [MemberOutcome(*key(i), "retry", exc.reason, exc.message) for i in batch]
    except RejectedRecordError as exc:
        status = status_of(exc)
        if status in SPLIT_STATUSES and len(batch) > 1:
            mid = len(batch) // 2
            return send_split(batch[:mid], send, key) + send_split(batch[mid:], send, key)
        if status == 404:  # the list or tag itself is gone; ensure_target recreates it
            gone = Reason.TARGET_MISSING
            return [MemberOutcome(*key(i), "retry", gone, exc.message) for i in batch]
        return [MemberOutcome(*key(i), "rejected", exc.reason, exc.message) for i in batch]
    except SyncdError as exc:
        return [MemberOutcome(*key(i), "rejected", exc.reason, exc.message) for i in batch]
