"""HubSpot write-back: owned MANUAL lists and syncd's own contact properties.

Lists: found by their stored id (never by name once an id is known), else by name, else
created once (`connectors.create_once`: a create whose answer was lost finds its list by name
rather than meeting its own name as "taken"). Memberships go through add-and-remove in chunks;
a chunk refused with 400/413 is split until the offending record is alone.
`recordIdsMissing` mixes "no such contact" with "already in that state" (api-facts 1.3):
removes are done either way, and missing adds are checked with one batch read per 100 ids.
Properties are written with batch update, 100 per call; a 207 names the failing ids in
`errors[].context.ids`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connectors.base import ApplyResult, Member, MemberOutcome, PropertyUpdate, Target
from connectors.create_once import create_once
from connectors.hubspot.client import LIST_MEMBERS, PAGING, HubSpotClient
from connectors.hubspot.failures import record_reason
from connectors.hubspot.limits import BATCH_MAX, MEMBERSHIP_CHUNK
from connectors.split import send_split
from syncd.errors import error_for
from syncd.events import Event
from syncd.failures import Reason
from syncd.http import PageToken, paginate, status_of
from syncd.logs import get_logger
from syncd.redact import REDACTOR

PROPERTY_GROUP = "contactinformation"
SEGMENTS_PROPERTY = "syncd_segments"
STAGE_PROPERTY = "syncd_journey_stage"
log = get_logger(__name__)


class HubSpotWriter:
    """Lists and properties through one client."""

    def __init__(self, client: HubSpotClient, chunk: int = MEMBERSHIP_CHUNK) -> None:
        self._client = client
        self._chunk = chunk

    # -- lists ------------------------------------------------------------------------------

    def ensure_list(self, target: Target) -> str:
        """The list's id: the known one verified, else found by name, else a new MANUAL list.

        Raises:
            ConfigError: The name belongs to a list syncd cannot write (another kind, or
                another object type), or HubSpot refused the create.
        """
        if target.remote_id:
            found = self._get_or_none(lambda: self._client.get_list(str(target.remote_id)))
            # A deleted list may still answer for 90 days (restorable), marked `deletedAt`.
            if found is not None and not found.get("deletedAt"):
                return _checked(found, target.name)
            log.warning(Event.HUBSPOT_LIST_GONE, list_id=target.remote_id, target=target.key)
            if not target.recreate:
                raise error_for(
                    Reason.TARGET_DELETED_KEPT,
                    f"HubSpot list {target.name!r} (id {target.remote_id}) was deleted by a "
                    "person; on_deleted_target is stop",
                    api="hubspot",
                )
        else:
            found = self._by_name(target.name)
            if found is not None:
                return str(found.get("listId"))
        created = create_once(
            lambda existing: self._client.create_list(target.name, existing),
            lambda: _as_answer(self._by_name(target.name)),
            what=f"HubSpot list {target.name!r}",
            api="hubspot",
        )
        return str((created.get("list") or created).get("listId"))

    def _by_name(self, name: str) -> dict[str, Any] | None:
        """The contact list called `name`, once checked to be one syncd may write.

        None if there is none.
        """
        found = self._get_or_none(lambda: self._client.get_list_by_name(name))
        if found is not None:
            _checked(found, name)
        return found

    @staticmethod
    def _get_or_none(fn: Callable[[], Any]) -> dict[str, Any] | None:
        try:
            data = fn()
        except Exception as exc:
            if status_of(exc) == 404:
                return None
            raise
        found = data.get("list") if isinstance(data, dict) else None
        return found if isinstance(found, dict) else None

    def read_members(self, list_id: str) -> Iterator[str]:
        """Every record id on the list, 250 per call.

        Raises:
            InternalError: HubSpot paged in a circle. Drift detection must not take the members
                it could not read as removed by hand.
        """

        def fetch(cursor: PageToken) -> Any:
            return self._client.list_members(list_id, cursor.token)

        for page in paginate(LIST_MEMBERS, fetch, PAGING):
            for r in page.data.get("results") or []:
                yield str(r.get("recordId"))

    def apply(self, list_id: str, adds: Sequence[Member], removes: Sequence[Member]) -> ApplyResult:
        """Add and remove record ids; one outcome per member."""
        result = ApplyResult()
        add_ids = _valid_ids(adds, "add", result)
        remove_ids = _valid_ids(removes, "remove", result)
        pairs = [(i, "add") for i in add_ids] + [(i, "remove") for i in remove_ids]
        for start in range(0, len(pairs), self._chunk):
            chunk = pairs[start : start + self._chunk]
            result.add(send_split(chunk, lambda part: self._membership_call(list_id, part), _pair))
        return result

    def _membership_call(self, list_id: str, part: list[tuple[str, str]]) -> list[MemberOutcome]:
        add = [i for i, a in part if a == "add"]
        remove = [i for i, a in part if a == "remove"]
        data = self._client.add_and_remove(list_id, add, remove)
        missing = {str(i) for i in data.get("recordIdsMissing") or []}
        out = [MemberOutcome(i, "remove", "applied") for i in remove]
        absent = self._absent([i for i in add if i in missing])
        for i in add:
            if i in absent:
                gone = Reason.CONTACT_DELETED
                out.append(MemberOutcome(i, "add", "rejected", gone, "no such contact"))
            else:  # added now, or already a member
                out.append(MemberOutcome(i, "add", "applied"))
        return out

    def _absent(self, ids: list[str]) -> set[str]:
        """Which of `ids` are not contacts (missing adds are otherwise already members)."""
        absent: set[str] = set()
        for start in range(0, len(ids), BATCH_MAX):
            chunk = ids[start : start + BATCH_MAX]
            data = self._client.read_contacts(chunk, ["hs_object_id"])
            found = {str(r.get("id")) for r in data.get("results") or []}
            absent.update(i for i in chunk if i not in found)
        return absent

    # -- properties -------------------------------------------------------------------------

    def ensure_properties(self, segment_keys: Sequence[str], stage_keys: Sequence[str]) -> None:
        """Create syncd's two contact properties if missing; add options they do not list yet.

        `syncd_segments` is a multiple-checkbox property, `syncd_journey_stage` a select.
        """
        self._ensure_enum(SEGMENTS_PROPERTY, "syncd segments", "checkbox", segment_keys)
        self._ensure_enum(STAGE_PROPERTY, "syncd journey stage", "select", stage_keys)

    def _ensure_enum(self, name: str, label: str, field_type: str, keys: Sequence[str]) -> None:
        try:
            current = self._client.get_property(name)
        except Exception as exc:
            if status_of(exc) != 404:
                raise
            body = {
                "name": name,
                "label": label,
                "type": "enumeration",
                "fieldType": field_type,
                "groupName": PROPERTY_GROUP,
                "description": "Written by syncd; edits are overwritten on the next sync.",
                "options": _options(keys, 0),
            }
            self._client.create_property(body)
            return
        if current.get("type") != "enumeration":
            raise error_for(
                Reason.TARGET_KIND_CONFLICT,
                f"HubSpot contact property {name} exists with type {current.get('type')}, "
                "not the enumeration syncd writes",
                api="hubspot",
            )
        options = [o for o in current.get("options") or [] if isinstance(o, dict)]
        have = {str(o.get("value")) for o in options}
        missing = [k for k in keys if k not in have]
        if missing:
            self._client.update_property(
                name, {"options": options + _options(missing, len(options))}
            )

    def write_properties(self, updates: Sequence[PropertyUpdate]) -> ApplyResult:
        """Batch update, 100 records per call; later updates of one record win."""
        merged: dict[str, dict[str, str]] = {}
        for u in updates:
            merged.setdefault(u.record_id, {}).update(u.properties)
        items = [(rid, props) for rid, props in merged.items()]
        result = ApplyResult()
        for start in range(0, len(items), BATCH_MAX):
            chunk = items[start : start + BATCH_MAX]
            result.add(send_split(chunk, self._property_call, _set_key))
        return result

    def _property_call(self, part: list[tuple[str, dict[str, str]]]) -> list[MemberOutcome]:
        data = self._client.update_contacts([{"id": rid, "properties": p} for rid, p in part])
        failed: dict[str, tuple[Reason, str]] = {}
        for err in data.get("errors") or []:
            message = REDACTOR.text(str(err.get("message") or ""))[:300]
            reason = record_reason(err)
            for rid in (err.get("context") or {}).get("ids") or []:
                failed[str(rid)] = (reason, message)
        out = []
        for rid, _ in part:
            if rid in failed:
                out.append(MemberOutcome(rid, "set", "rejected", *failed[rid]))
            else:
                out.append(MemberOutcome(rid, "set", "applied"))
        return out


def _pair(item: tuple[str, str]) -> tuple[str, str]:
    return item


def _set_key(item: tuple[str, dict[str, str]]) -> tuple[str, str]:
    return item[0], "set"


def _as_answer(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A list found by name, shaped like the create's answer (`{"list": ...}`)."""
    return None if found is None else {"list": found}


def _checked(found: dict[str, Any], name: str) -> str:
    if (
        found.get("processingType") not in ("MANUAL", "SNAPSHOT")
        or found.get("objectTypeId", "0-1") != "0-1"
    ):
        raise error_for(
            Reason.TARGET_KIND_CONFLICT,
            f"HubSpot list {name!r} (id {found.get('listId')}) is a "
            f"{found.get('processingType')} list of {found.get('objectTypeId')}; "
            "syncd writes only MANUAL contact lists",
            api="hubspot",
        )
    return str(found.get("listId"))


def _valid_ids(members: Sequence[Member], action: str, result: ApplyResult) -> list[str]:
    ids = []
    for m in members:
        if m.remote_id.isdigit():
            ids.append(m.remote_id)
        else:
            bad = Reason.BAD_RECORD_ID
            result.add([MemberOutcome(m.remote_id, action, "rejected", bad, "not a record id")])
    return list(dict.fromkeys(ids))


def _options(keys: Sequence[str], first_order: int) -> list[dict[str, Any]]:
    return [
        {"label": k, "value": k, "displayOrder": first_order + n, "hidden": False}
        for n, k in enumerate(keys)
    ]
