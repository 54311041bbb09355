"""The record ids a full pull saw, kept compactly so a million of them cost megabytes.

A complete full pull sweeps the stored records it did not see (`profiles.departure`). Each id
is kept as its 64-bit hash in a flat array (8 bytes, against about 60 for a HubSpot id string
and 80 for a Mailchimp hash in a set). Two ids sharing a hash would leave a departed record
in place until a later full pull: with 10^6 ids the chance is about 10^-7. Python's string
hash is salted per process, which is fine: the hashes never outlive the run.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class SeenIds:
    """Record ids added one at a time, then asked which of many stored ids are missing."""

    def __init__(self) -> None:
        self._hashes = array("q")

    def add(self, record_id: str) -> None:
        """Note that the pull saw `record_id`."""
        self._hashes.append(hash(record_id))

    def __len__(self) -> int:
        return len(self._hashes)

    def missing(self, record_ids: Sequence[str]) -> list[str]:
        """Those of `record_ids` never added, in their order."""
        if not record_ids:
            return []
        seen: npt.NDArray[np.int64] = np.unique(np.frombuffer(self._hashes, dtype=np.int64))
        asked = np.fromiter((hash(r) for r in record_ids), dtype=np.int64, count=len(record_ids))
        found = np.isin(asked, seen, assume_unique=False)
        return [r for r, hit in zip(record_ids, found.tolist(), strict=True) if not hit]
