"""One contract, both connectors: the real SDKs over loopback HTTP against the sandbox.

Each test runs once per connector. `Side` knows the few connector-specific things a test needs
(what the sandbox holds, how a person edits a record, what a member looks like); everything
else is the `connectors.base` protocol.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from connectors.base import Connector, FieldMap, Member, SourceRecord, Target, TargetKind
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.cursor import PullCursor
from connectors.mailchimp import MailchimpConnector, subscriber_hash
from syncd.errors import ConfigError
from syncd.failures import Reason
from syncd.http import ApiStats, RetrySettings
from syncd.sandbox import Limits, Sandbox
from syncd.sandbox.mailchimp.state import McSegment
from tests.support.connector_fields import HUBSPOT_PATHS, MAILCHIMP_PATHS

FIELDS = FieldMap.from_paths(
    hubspot={**HUBSPOT_PATHS, "company_size": "company.numberofemployees"},
    mailchimp=MAILCHIMP_PATHS,
)


class Side:
    """Connector-specific helpers for the shared tests."""

    name: str

    def make(self, sb: Sandbox, **kwargs: Any) -> Connector:
        """A connector on the sandbox with zero-wait retries and relaxed client limits."""
        raise NotImplementedError

    def expected(self, sb: Sandbox) -> dict[str, str]:
        """Source id -> email of every record the sandbox holds."""
        raise NotImplementedError

    def edit(self, sb: Sandbox, source_id: str, value: str) -> None:
        """Change a first name as a person would, through the vendor API."""
        raise NotImplementedError

    def target(self, key: str) -> Target:
        """The owned target of a segment key."""
        raise NotImplementedError

    def member(self, sb: Sandbox, source_id: str) -> Member:
        """The `Member` of an existing record."""
        raise NotImplementedError

    def stranger(self) -> Member:
        """A member the vendor does not know."""
        raise NotImplementedError

    def editable(self, sb: Sandbox) -> list[str]:
        """Ids a person can edit, and syncd can tag, without restoring them first, sorted.

        Mailchimp leaves archived members out of tag changes and tag listings (the spec's
        segment-member status enum has no `archived`).
        """
        return sorted(self.expected(sb))

    def changed_at_or_after(self, sb: Sandbox, cursor: str) -> set[str]:
        """Records whose vendor timestamp is at or after `cursor`, in the vendor's unit."""
        raise NotImplementedError

    def position(self, cursor: str) -> Any:
        """The cursor as a value that orders by time."""
        return cursor

    #: The counter label of the create call, and the SDK method that sends it.
    create_endpoint: str
    create_method: str
    #: The reason an add of a member the vendor does not know is refused with.
    missing_reason: Reason

    def named(self, sb: Sandbox, name: str) -> list[str]:
        """Ids of every list or tag the sandbox holds under `name`."""
        raise NotImplementedError

    def squat(self, sb: Sandbox, name: str) -> None:
        """Make, as a person would, something syncd must not write under the name `name`
        that `ensure_target`'s lookup does not return (so only the create meets it).
        """
        raise NotImplementedError


class HubSpotSide(Side):
    name = "hubspot"
    create_endpoint = "POST /crm/v3/lists"
    create_method = "create"
    missing_reason = Reason.CONTACT_DELETED

    def make(self, sb: Sandbox, **kwargs: Any) -> Connector:
        args: dict[str, Any] = {
            "access_token": sb.hubspot_token,
            "base_url": sb.hubspot_url,
            "field_map": FIELDS,
            "retry": RetrySettings.immediate(),
            "search_per_s": 10_000,
            "overlap_s": 0,
        }
        args.update(kwargs)
        return HubSpotConnector(**args)

    def expected(self, sb: Sandbox) -> dict[str, str]:
        return {str(i): c.props.get("email") for i, c in sb.hubspot.contacts.items()}

    def edit(self, sb: Sandbox, source_id: str, value: str) -> None:
        r = requests.patch(
            f"{sb.hubspot_url}/crm/v3/objects/contacts/{source_id}",
            json={"properties": {"firstname": value}},
            headers={"Authorization": f"Bearer {sb.hubspot_token}", "X-Sandbox-Actor": "person"},
            timeout=10,
        )
        r.raise_for_status()

    def target(self, key: str) -> Target:
        return Target(TargetKind.HUBSPOT_LIST, key, f"syncd: {key}")

    def member(self, sb: Sandbox, source_id: str) -> Member:
        return Member(source_id)

    def stranger(self) -> Member:
        return Member("987654321")

    def changed_at_or_after(self, sb: Sandbox, cursor: str) -> set[str]:
        since = self.position(cursor)
        return {str(i) for i, c in sb.hubspot.contacts.items() if c.updated_ms >= since}

    def position(self, cursor: str) -> Any:
        return PullCursor.parse(cursor).ms

    def named(self, sb: Sandbox, name: str) -> list[str]:
        return [str(i) for i, lst in sb.hubspot.lists.items() if lst.name == name]

    def squat(self, sb: Sandbox, name: str) -> None:
        # A company list: the contact-list lookup misses it, but the name is the portal's.
        person_create_list(sb, {"name": name, "objectTypeId": "0-2", "processingType": "MANUAL"})


class MailchimpSide(Side):
    name = "mailchimp"
    create_endpoint = "POST /lists/{list_id}/segments"
    create_method = "create_segment"
    missing_reason = Reason.NOT_IN_AUDIENCE

    def make(self, sb: Sandbox, **kwargs: Any) -> Connector:
        args: dict[str, Any] = {
            "api_key": sb.mailchimp_key,
            "base_url": sb.mailchimp_url,
            "audience_id": sb.audience_id,
            "field_map": FIELDS,
            "retry": RetrySettings.immediate(),
            "overlap_s": 0,
        }
        args.update(kwargs)
        return MailchimpConnector(**args)

    def expected(self, sb: Sandbox) -> dict[str, str]:
        return {h: m.email for h, m in sb.mailchimp.members.items()}

    def edit(self, sb: Sandbox, source_id: str, value: str) -> None:
        token = base64.b64encode(f"person:{sb.mailchimp_key}".encode()).decode()
        r = requests.patch(
            f"{sb.mailchimp_url}/lists/{sb.audience_id}/members/{source_id}",
            json={"merge_fields": {"FNAME": value}},
            headers={"Authorization": f"Basic {token}", "X-Sandbox-Actor": "person"},
            timeout=10,
        )
        r.raise_for_status()

    def target(self, key: str) -> Target:
        return Target(TargetKind.MAILCHIMP_TAG, key, f"syncd:{key}")

    def member(self, sb: Sandbox, source_id: str) -> Member:
        return Member(source_id, sb.mailchimp.members[source_id].email)

    def stranger(self) -> Member:
        email = "nobody-here@example.com"
        return Member(subscriber_hash(email), email)

    def editable(self, sb: Sandbox) -> list[str]:
        return sorted(h for h, m in sb.mailchimp.members.items() if m.status != "archived")

    def changed_at_or_after(self, sb: Sandbox, cursor: str) -> set[str]:
        second = int(datetime.fromisoformat(cursor).timestamp())
        return {h for h, m in sb.mailchimp.members.items() if m.last_changed_ms // 1000 >= second}

    def named(self, sb: Sandbox, name: str) -> list[str]:
        return [str(i) for i, seg in sb.mailchimp.segments.items() if seg.name == name]

    def squat(self, sb: Sandbox, name: str) -> None:
        # A saved (condition-based) segment: the tag lookup (`type=static`) misses it. The
        # sandbox's API makes static segments only, so it is put in place directly.
        with sb.state_lock():
            sid = sb.mailchimp.next_segment_id
            sb.mailchimp.next_segment_id += 1
            now = sb.mailchimp.clock.write_ms()
            sb.mailchimp.segments[sid] = McSegment(sid, name, "saved", now, now)


def person_create_list(sb: Sandbox, body: dict[str, Any]) -> None:
    """`POST /crm/v3/lists` as a person (no faults, not counted as syncd's call)."""
    r = requests.post(
        f"{sb.hubspot_url}/crm/v3/lists",
        json=body,
        headers={"Authorization": f"Bearer {sb.hubspot_token}", "X-Sandbox-Actor": "person"},
        timeout=10,
    )
    r.raise_for_status()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=600, seed=7, limits=Limits.relaxed()) as sb:
        yield sb


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    sandbox.reset(contacts=600, seed=7)
    return sandbox


@pytest.fixture(params=[HubSpotSide(), MailchimpSide()], ids=lambda s: s.name)
def side(request: pytest.FixtureRequest) -> Side:
    side: Side = request.param
    return side


def served(sb: Sandbox, api: str, requests_sent: int) -> dict[str, Any]:
    """The sandbox's counters of `api`, once it has recorded every request we sent.

    The server counts a request just after answering it, so the last one may lag a moment.
    """
    deadline = time.monotonic() + 5
    while True:
        stats: dict[str, Any] = sb.stats()[api]
        if stats["requests"] >= requests_sent or time.monotonic() > deadline:
            return stats
        threading.Event().wait(0.005)


def pull_all(
    connector: Connector, cursor: str | None, *, full: bool
) -> tuple[list[SourceRecord], str | None]:
    records: list[SourceRecord] = []
    last: str | None = None
    for page in connector.pull(cursor, full=full):
        records.extend(page.records)
        if page.cursor is not None:
            last = page.cursor
    return records, last


def test_full_pull_equals_the_sandbox(sb: Sandbox, side: Side) -> None:
    connector = side.make(sb)
    records, cursor = pull_all(connector, None, full=True)
    assert {r.source_id: r.email for r in records} == side.expected(sb)
    assert len(records) == len(side.expected(sb))  # no record twice
    assert cursor is not None
    assert all(r.source == side.name for r in records)


def test_full_pull_maps_fields_to_canonical_names(sb: Sandbox, side: Side) -> None:
    records, _ = pull_all(side.make(sb), None, full=True)
    if side.name == "hubspot":
        by_id = {r.source_id: r for r in records}
        for cid, contact in sb.hubspot.contacts.items():
            rec = by_id[str(cid)]
            assert rec.fields["lifecycle_stage"] == contact.props.get("lifecyclestage")
            deals = [sb.hubspot.deals[d] for d in sb.hubspot.contact_deals.get(cid, [])]
            won = [d for d in deals if d.props.get("dealstage") == "closedwon"]
            assert rec.fields["deals_won"] == len(won)
            assert rec.fields["revenue"] == pytest.approx(
                sum(float(d.props.get("amount") or 0) for d in won)
            )
            companies = sb.hubspot.contact_companies.get(cid)
            industry = (
                sb.hubspot.companies[companies[0]].props.get("industry") if companies else None
            )
            assert rec.fields["industry"] == industry
    else:
        for rec in records:
            member = sb.mailchimp.members[rec.source_id]
            assert rec.status == member.status
            assert rec.fields["first_name"] == member.merge_fields.get("FNAME")
            assert rec.fields["open_rate"] == member.avg_open_rate
            assert rec.fields["country"] == member.country_code


def test_incremental_pull_sees_exactly_the_changes_since_the_cursor(
    sb: Sandbox, side: Side
) -> None:
    connector = side.make(sb)
    _, cursor = pull_all(connector, None, full=True)
    assert cursor is not None
    # Records the vendor already dates at or after the cursor (Mailchimp counts whole seconds,
    # and the seeded data ends "now") are changes since the cursor too.
    boundary = side.changed_at_or_after(sb, cursor)
    changed = side.editable(sb)[::97]
    for n, source_id in enumerate(changed):
        side.edit(sb, source_id, f"Edited{n}")
    records, new_cursor = pull_all(connector, cursor, full=False)
    assert sorted(r.source_id for r in records) == sorted(set(changed) | boundary)
    edited = {r.fields["first_name"] for r in records if r.source_id in changed}
    assert edited == {f"Edited{n}" for n in range(len(changed))}
    assert new_cursor is not None and side.position(new_cursor) >= side.position(cursor)
    again, _ = pull_all(connector, new_cursor, full=False)
    # Only records changed in the cursor's own time unit come back (Mailchimp: whole seconds).
    assert {r.source_id for r in again} == side.changed_at_or_after(sb, new_cursor)


def test_incremental_pull_re_reads_an_overlap_window(sb: Sandbox, side: Side) -> None:
    connector = side.make(sb, overlap_s=3600)
    _, cursor = pull_all(connector, None, full=True)
    source_id = side.editable(sb)[3]
    side.edit(sb, source_id, "Once")
    first, cursor2 = pull_all(connector, cursor, full=False)
    second, _ = pull_all(connector, cursor2, full=False)
    assert source_id in {r.source_id for r in first}
    assert source_id in {r.source_id for r in second}  # lag-safe: seen again, merged idempotently


@pytest.mark.slow
def test_incremental_pull_across_the_search_cap_loses_nothing(side: Side) -> None:
    # The rolling limit is 1,000/s and search (client side) 10,000/s, so searching the 125
    # pages is quicker than walking the list and the HubSpot pull keeps to search.
    limits = Limits.relaxed(hubspot_per_10s=10_000)
    with Sandbox(contacts=25_000, seed=3, limits=limits) as big:
        connector = side.make(big)
        # A cursor at the epoch makes every record "changed": 25,000 contacts in one window.
        records, _ = pull_all(
            connector, "1" if side.name == "hubspot" else "1970-01-02T00:00:00+00:00", full=False
        )
        ids = [r.source_id for r in records]
        assert set(ids) == set(side.expected(big))
        assert len(ids) == len(set(ids))  # re-anchoring skipped what it had already read
        if side.name == "hubspot":
            searches = connector.stats.endpoints("hubspot")["POST /crm/v3/objects/contacts/search"]
            assert searches.api_calls >= 25_000 // 200


def test_apply_is_idempotent(sb: Sandbox, side: Side) -> None:
    connector = side.make(sb)
    remote_id = connector.ensure_target(side.target("vip"))
    ids = side.editable(sb)[:7]
    members = [side.member(sb, i) for i in ids]
    for _ in range(2):
        result = connector.apply(remote_id, members, [])
        assert result.counts() == {"applied": 7}
        assert sorted(connector.read_members(remote_id)) == ids
    for _ in range(2):
        result = connector.apply(remote_id, [], members[:3])
        assert result.counts() == {"applied": 3}
        assert sorted(connector.read_members(remote_id)) == ids[3:]
    known = side.target("vip")
    known = Target(known.kind, known.key, known.name, remote_id)
    assert connector.ensure_target(known) == remote_id
    assert connector.ensure_target(side.target("vip")) == remote_id  # found by name, not made twice


def test_partial_failures_come_back_per_member(sb: Sandbox, side: Side) -> None:
    connector = side.make(sb)
    remote_id = connector.ensure_target(side.target("partial"))
    good = [side.member(sb, i) for i in side.editable(sb)[:4]]
    bad = side.stranger()
    result = connector.apply(remote_id, [*good[:2], bad, *good[2:]], [])
    outcomes = result.by_id()
    assert outcomes[bad.remote_id, "add"].outcome == "rejected"
    assert outcomes[bad.remote_id, "add"].reason is side.missing_reason
    assert "@" not in (outcomes[bad.remote_id, "add"].message or "")
    assert all(outcomes[m.remote_id, "add"].outcome == "applied" for m in good)
    assert sorted(connector.read_members(remote_id)) == sorted(m.remote_id for m in good)


def test_a_known_target_that_was_deleted_is_recreated_not_found_by_name(
    sb: Sandbox, side: Side
) -> None:
    connector = side.make(sb)
    gone = side.target("gone")
    gone = Target(gone.kind, gone.key, gone.name, "424242")
    new_id = connector.ensure_target(gone)
    assert new_id != "424242"
    assert connector.ensure_target(Target(gone.kind, gone.key, gone.name, new_id)) == new_id


def test_retries_converge_under_injected_faults(sb: Sandbox, side: Side) -> None:
    sb.set_faults(
        {
            side.name: {"429": 0.08, "500": 0.04, "503": 0.03, "timeout": 0.03, "reset": 0.02,
                        "truncated": 0.02, "non_json": 0.02},
            "seed": 11,
            "timeout_s": 4.0,
        }
    )  # fmt: skip
    small = {"page_size": 20} if side.name == "mailchimp" else {}  # more calls, more faults
    connector = side.make(
        sb, retry=RetrySettings.immediate(max_attempts=12, timeout_s=2.0), **small
    )
    records, _ = pull_all(connector, None, full=True)
    assert {r.source_id: r.email for r in records} == side.expected(sb)
    stats = connector.stats.api(side.name)
    counted = served(sb, side.name, stats.api_calls)
    assert counted["faults"] > 0
    assert stats.failures >= counted["faults"] - counted["fault_kinds"].get("timeout", 0)
    assert stats.http_429 == counted["http_429"]
    remote_id = connector.ensure_target(side.target("faulty"))
    members = [side.member(sb, i) for i in side.editable(sb)[:50]]
    result = connector.apply(remote_id, members, [])
    assert result.counts() == {"applied": 50}
    sb.set_faults(None)
    assert sorted(connector.read_members(remote_id)) == sorted(m.remote_id for m in members)


def test_401_is_a_configuration_error_with_an_actionable_message(sb: Sandbox, side: Side) -> None:
    secret = "wrong-secret-value-us1"
    kwargs: dict[str, Any] = (
        {"access_token": secret} if side.name == "hubspot" else {"api_key": secret}
    )
    connector = side.make(sb, **kwargs)
    with pytest.raises(ConfigError) as info:
        connector.check()
    assert info.value.reason is Reason.AUTH_REFUSED
    text = str(info.value)
    assert "401" in text
    assert ("access_token" in text) if side.name == "hubspot" else ("api_key" in text)
    assert "scope" not in text  # the token was refused; no scope is missing
    assert secret not in text
    before = {k: v.api_calls for k, v in connector.stats.endpoints(side.name).items()}
    with pytest.raises(ConfigError):
        list(connector.pull(None, full=True))
    # Never retried: the pull called each endpoint once at most (HubSpot's full pull may
    # have sent its first search beside its first list page).
    after = connector.stats.endpoints(side.name)
    sent = {k: v.api_calls - before.get(k, 0) for k, v in after.items()}
    assert sum(before.values()) == 1 and sum(sent.values()) >= 1, sent
    assert all(n <= 1 for n in sent.values()), sent


def test_calls_are_counted_per_endpoint_and_shared(sb: Sandbox, side: Side) -> None:
    stats = ApiStats()
    connector = side.make(sb, stats=stats)
    pull_all(connector, None, full=True)
    counted = served(sb, side.name, stats.api(side.name).api_calls)
    assert stats.api(side.name).api_calls == counted["requests"]
    assert stats.totals()[side.name] == (counted["requests"], 0)
    assert sum(e.api_calls for e in stats.endpoints(side.name).values()) == counted["requests"]


# -- creates whose answer is lost ------------------------------------------------------------


def fault_on_first_create(
    sb: Sandbox, side: Side, connector: Connector, fault: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve `fault` to the connector's first create request and to nothing else.

    Faults are switched on just before the SDK sends that request and off as soon as it
    returns or fails, so lookups and any second create are served normally.
    """
    api = connector.client.lists  # type: ignore[attr-defined]
    real = getattr(api, side.create_method)
    sent = {"n": 0}

    def first_fails(*args: Any, **kwargs: Any) -> Any:
        sent["n"] += 1
        if sent["n"] > 1:
            return real(*args, **kwargs)
        sb.set_faults({side.name: {fault: 1.0}, "timeout_s": 4.0})
        try:
            return real(*args, **kwargs)
        finally:
            sb.set_faults(None)

    monkeypatch.setattr(api, side.create_method, first_fails)


# truncated / non_json: the sandbox applies the create, then breaks its answer.
# reset / timeout: the create never reaches the handler.
CREATE_FAULTS = [("truncated", 1), ("non_json", 1), ("reset", 2), ("timeout", 2)]


@pytest.mark.parametrize(("fault", "creates_sent"), CREATE_FAULTS)
def test_a_create_whose_answer_is_lost_makes_exactly_one_target(
    sb: Sandbox, side: Side, fault: str, creates_sent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = side.make(sb, retry=RetrySettings.immediate(timeout_s=2.0))
    target = side.target(f"lost-{fault}")
    fault_on_first_create(sb, side, connector, fault, monkeypatch)
    remote_id = connector.ensure_target(target)  # no ConfigError: the name is syncd's own
    assert side.named(sb, target.name) == [remote_id]
    creates = connector.stats.endpoints(side.name)[side.create_endpoint]
    assert creates.api_calls == creates_sent  # applied: adopted, not created again
    assert creates.failures == 1
    known = Target(target.kind, target.key, target.name, remote_id)
    assert connector.ensure_target(known) == remote_id
    members = [side.member(sb, i) for i in side.editable(sb)[:3]]
    assert connector.apply(remote_id, members, []).counts() == {"applied": 3}


def test_a_name_held_by_something_syncd_did_not_make_is_a_configuration_error(
    sb: Sandbox, side: Side
) -> None:
    connector = side.make(sb)
    target = side.target("squatted")
    side.squat(sb, target.name)
    with pytest.raises(ConfigError, match="not the one syncd created") as info:
        connector.ensure_target(target)
    assert info.value.reason is Reason.NAME_TAKEN
    assert connector.stats.endpoints(side.name)[side.create_endpoint].api_calls == 1
    assert len(side.named(sb, target.name)) == 1  # the person's, untouched


def test_a_held_name_is_still_a_configuration_error_after_a_lost_create(
    sb: Sandbox, side: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = side.make(sb, retry=RetrySettings.immediate(timeout_s=2.0))
    target = side.target("squatted-reset")
    side.squat(sb, target.name)
    fault_on_first_create(sb, side, connector, "reset", monkeypatch)
    with pytest.raises(ConfigError, match="not the one syncd created"):
        connector.ensure_target(target)
    # The reset create never ran; the second met the name, and the lookup found nothing ours.
    assert connector.stats.endpoints(side.name)[side.create_endpoint].api_calls == 2
    assert len(side.named(sb, target.name)) == 1


def test_a_dynamic_hubspot_list_of_that_name_is_a_configuration_error(sb: Sandbox) -> None:
    side = HubSpotSide()
    target = side.target("dynamic")
    person_create_list(
        sb,
        {
            "name": target.name,
            "objectTypeId": "0-1",
            "processingType": "DYNAMIC",
            "filterBranch": {"filterBranchType": "OR", "filterBranches": [], "filters": []},
        },
    )
    connector = side.make(sb)
    with pytest.raises(ConfigError, match="DYNAMIC") as info:
        connector.ensure_target(target)
    assert "rename" in str(info.value)
    assert info.value.reason is Reason.TARGET_KIND_CONFLICT
    assert side.create_endpoint not in connector.stats.endpoints("hubspot")
