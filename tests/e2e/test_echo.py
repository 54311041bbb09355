"""syncd's own echo: the run after a property write re-reads it once, by the quicker method.

Writing `syncd_segments` / `syncd_journey_stage` bumps each written contact's
`lastmodifieddate`, so the next incremental pull finds them all changed. With most of the portal
changed, walking the list (100 per call at the general rate) beats search (200 per call at 4
per second), and the walk leaves a cursor without the search overlap, so a run right after it
reads (almost) nothing. Calls are counted by the sandbox, per endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from syncd.http import RetrySettings
from syncd.runtime import Runtime, open_runtime
from syncd.sandbox import Sandbox
from syncd.store import RunStatus
from tests.e2e.helpers import make_settings
from tests.support.sandboxes import start_sandbox

# The sandbox counts calls per route template.
LIST = "GET /crm/v3/objects/{objectType}"
SEARCH = "POST /crm/v3/objects/{objectType}/search"
#: Each incremental run searches deals and companies for changes too: one page each here.
RELATED_SEARCHES = 2
CONTACTS = 1_000  # enough echo (5 search pages) for the list walk to be the quicker method


@pytest.fixture
def big() -> Iterator[Sandbox]:
    with start_sandbox(CONTACTS, seed=11) as sb:
        yield sb


@pytest.fixture
def runtime(big: Sandbox, db_url: str) -> Iterator[Runtime]:
    rt = open_runtime(
        make_settings(big, db_url), retry=RetrySettings.immediate(max_attempts=6, timeout_s=5.0)
    )
    yield rt
    rt.close()


def calls(sb: Sandbox) -> dict[str, Any]:
    stats = sb.stats()
    return {"hubspot": dict(stats["hubspot"]["endpoints"]), "writes": stats["hubspot"]["writes"]}


def spent(before: dict[str, Any], after: dict[str, Any], endpoint: str) -> int:
    return int(after["hubspot"].get(endpoint, 0)) - int(before["hubspot"].get(endpoint, 0))


def sync(rt: Runtime, **kwargs: Any) -> int:
    """Run once; the number of HubSpot contacts the run pulled."""
    result = rt.syncer.sync(**kwargs)
    assert result.status is RunStatus.SUCCESS, result.error
    return int(result.counts.pulled.get("hubspot", 0))


def test_the_echo_is_paid_once_by_list_walk_and_not_again(big: Sandbox, runtime: Runtime) -> None:
    sync(runtime, trigger="manual", full=True)
    with big.state_lock():
        written = sum(
            1
            for c in big.hubspot.contacts.values()
            if c.props.get("syncd_segments") or c.props.get("syncd_journey_stage")
        )
    assert written > CONTACTS // 2  # the echo: most of the portal changed after the full pull

    first = calls(big)
    assert sync(runtime, trigger="schedule") >= written  # (and contacts of changed deals)
    second = calls(big)
    # One search page showed the echo's size and one more counted the portal; then one walk
    # (search would have taken 5 pages at 4 per second).
    assert spent(first, second, SEARCH) == 2 + RELATED_SEARCHES
    assert spent(first, second, LIST) == CONTACTS // 100
    assert second["writes"] == first["writes"]  # the echo changes nothing

    # Right after a walk, and again after a search run: the contact search starts at the
    # walk (its overlap stops there), so one page, and the echo is not read again. What is
    # read are the contacts of deals and companies the seed changed in the last minutes
    # (their search keeps the overlap).
    for _ in range(2):
        before = calls(big)
        assert sync(runtime, trigger="schedule") < written // 20
        after = calls(big)
        assert spent(before, after, SEARCH) == 1 + RELATED_SEARCHES
        assert spent(before, after, LIST) == 0
