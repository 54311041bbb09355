"""`MailchimpConnector`: audience members in, owned tags (static segments) out.

Pulls page through `GET /lists/{id}/members` 1,000 at a time by offset. Incremental pulls ask
for `since_last_changed` (cursor minus an overlap) inside a `before_last_changed` window frozen
at the run's start, sorted ascending, so offsets stay put while people edit their profiles;
when a member leaves the window mid-pull (it changed), `total_items` drops and the offset is
moved back by as much, so nobody is skipped. Writes never touch a member's status: tags are
added and removed with the static-segment batch call, 500 addresses per array at most. A tag is
created once (`connectors.create_once`): a create whose answer was lost finds its tag by name
rather than meeting its own name as "taken".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import (
    ApplyResult,
    FieldMap,
    FieldSource,
    Member,
    MemberOutcome,
    Page,
    SourceRecord,
    Target,
)
from connectors.create_once import create_once
from connectors.mailchimp.client import MailchimpClient, base_url_for
from connectors.mailchimp.failures import member_reason
from connectors.mailchimp.limits import PAGE_MAX, SEGMENT_BATCH_MAX
from connectors.split import send_split
from syncd.errors import SyncdError, error_for
from syncd.events import Event
from syncd.failures import Reason
from syncd.http import (
    ApiStats,
    Offset,
    OffsetPaging,
    RetrySettings,
    paginate,
    status_of,
)
from syncd.logs import get_logger
from syncd.redact import REDACTOR
from syncd.targets import TargetKind

DEFAULT_OVERLAP_S = 300.0
BASE_FIELDS = ("id", "contact_id", "email_address", "status", "last_changed", "tags")
#: Endpoints read page by page (labels of counters and errors).
MEMBERS = "GET /lists/{list_id}/members"
SEGMENTS = "GET /lists/{list_id}/segments"
SEGMENT_MEMBERS = "GET /lists/{list_id}/segments/{segment_id}/members"
log = get_logger(__name__)


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: md5 of the lower-cased address (api-facts 2.1)."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - vendor's id


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MailchimpConnector:
    """Reads one audience's members and writes syncd's tags.

    Args:
        api_key: API key (registered with the redactor).
        audience_id: The audience (list) id.
        field_map: Which member fields to read (`FieldMap.mailchimp`).
        base_url: API root; None derives it from the key's datacenter (`-us1`).
        retry: Retry and timeout settings.
        stats: Call counters (share one `ApiStats` across connectors if you like).
        overlap_s: How far before its cursor an incremental pull starts.
        page_size: Members per page (<= 1,000).
        clock: Current time; the pull window is frozen at the start.
    """

    name = "mailchimp"

    def __init__(
        self,
        *,
        api_key: str,
        audience_id: str,
        field_map: FieldMap,
        base_url: str | None = None,
        retry: RetrySettings | None = None,
        stats: ApiStats | None = None,
        overlap_s: float = DEFAULT_OVERLAP_S,
        page_size: int = PAGE_MAX,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        REDACTOR.register([api_key])
        self.stats = stats or ApiStats()
        self.retry = retry or RetrySettings()
        self.audience_id = audience_id
        self.client = MailchimpClient(
            base_url_for(api_key, base_url), api_key, self.retry, self.stats
        )
        self._sources: tuple[FieldSource, ...] = field_map.mailchimp
        heads = {s.path.split(".", 1)[0] for s in self._sources}
        self._fields = [f"members.{f}" for f in sorted({*BASE_FIELDS, *heads})] + ["total_items"]
        self._overlap = timedelta(seconds=overlap_s)
        self._page = min(page_size, PAGE_MAX)
        self._clock = clock

    # -- reads ------------------------------------------------------------------------------

    def check(self) -> None:
        """Ping, then read the audience: proves the key, the datacenter and the audience id."""
        self.client.send("GET /ping", self.client.ping.get)
        try:
            self.client.send(
                "GET /lists/{list_id}", self.client.lists.get_list, self.audience_id, fields=["id"]
            )
        except Exception as exc:
            if status_of(exc) == 404:
                missing = f"Mailchimp audience {self.audience_id!r} does not exist"
                raise error_for(Reason.AUDIENCE_MISSING, missing, api=self.name) from None
            raise

    def pull(self, cursor: str | None, *, full: bool) -> Iterator[Page]:
        """Full pull (offset paging) or incremental (`since_last_changed` window)."""
        # Mailchimp times have whole seconds: the cursor is the start rounded down (changes in
        # that second are read again next run), the window ends at the next whole second.
        now = self._clock().astimezone(UTC)
        start = now.replace(microsecond=0)
        window_end = start + timedelta(seconds=1)
        window: dict[str, Any] = {}
        top = None
        if not full and cursor:
            since = _parse_time(cursor)
            if since is not None:
                since = min(since, start) - self._overlap
                top = since
                window = {
                    "since_last_changed": _iso(since),
                    "before_last_changed": _iso(window_end),
                    "sort_field": "last_changed",
                    "sort_dir": "ASC",
                }

        def fetch(at: Offset) -> dict[str, Any]:
            try:
                return self.client.send(
                    MEMBERS,
                    self.client.lists.get_list_members_info,
                    self.audience_id,
                    count=self._page,
                    offset=at.offset,
                    fields=self._fields,
                    **window,
                )
            except Exception as exc:
                if status_of(exc) == 404:
                    raise self._missing_audience() from None
                raise

        # Members that change mid-pull leave the frozen window: the total drops, and the
        # offset steps back by as much so the next page re-reads rather than skips.
        paging = OffsetPaging("members", page_size=self._page, follow_shrink=True)
        for page in paginate(MEMBERS, fetch, paging):
            members = [m for m in page.data.get("members") or [] if isinstance(m, dict)]
            records = [self._record(m) for m in members]
            if window and records:
                newest = max((r.updated_at for r in records if r.updated_at), default=None)
                if newest is not None and (top is None or newest > top):
                    top = newest
            if page.last:
                yield Page(records, _iso(start))
            elif records:
                yield Page(records, _iso(min(top, start)) if window and top else None)

    def _record(self, m: dict[str, Any]) -> SourceRecord:
        email = m.get("email_address")
        sid = str(m.get("id") or (subscriber_hash(email) if isinstance(email, str) else ""))
        tags = [str(t.get("name")) for t in m.get("tags") or [] if isinstance(t, dict)]
        return SourceRecord(
            source="mailchimp",
            source_id=sid,
            email=email if isinstance(email, str) else None,
            fields={s.field: _dig(m, s.path) for s in self._sources},
            status=m.get("status"),
            tags=tags,
            updated_at=_parse_time(m.get("last_changed")),
            key=str(m["contact_id"]) if m.get("contact_id") else None,
        )

    # -- tags -------------------------------------------------------------------------------

    def ensure_target(self, target: Target) -> str:
        """The tag's segment id: the known one verified, else found by name, else created."""
        if target.kind is not TargetKind.MAILCHIMP_TAG:
            raise ValueError(f"Mailchimp cannot hold a {target.kind}")
        lists = self.client.lists
        if target.remote_id:
            try:
                seg = self.client.send(
                    "GET /lists/{list_id}/segments/{segment_id}",
                    lists.get_segment,
                    self.audience_id,
                    target.remote_id,
                )
                return _static(seg, target.name)
            except Exception as exc:
                if status_of(exc) != 404:
                    raise
            log.warning(Event.MAILCHIMP_TAG_GONE, segment_id=target.remote_id, target=target.key)
            if not target.recreate:
                raise error_for(
                    Reason.TARGET_DELETED_KEPT,
                    f"Mailchimp tag {target.name!r} (id {target.remote_id}) was deleted by a "
                    "person; on_deleted_target is stop",
                    api="mailchimp",
                )
        else:
            found = self._find_segment(target.name)
            if found is not None:
                return _static(found, target.name)
        seg = create_once(
            lambda existing: self.client.send(
                "POST /lists/{list_id}/segments",
                lists.create_segment,
                self.audience_id,
                {"name": target.name, "static_segment": []},
                write=True,
                existing=existing,
            ),
            lambda: self._find_segment(target.name),
            what=f"Mailchimp tag {target.name!r}",
            api=self.name,
        )
        return str(seg.get("id"))

    def _missing_audience(self) -> SyncdError:
        """The error for a 404 on the audience's own member or segment list.

        It means the audience id is wrong (the configuration error `check` reports), not that
        one record was refused.
        """
        missing = f"Mailchimp audience {self.audience_id!r} does not exist"
        return error_for(Reason.AUDIENCE_MISSING, missing, api=self.name)

    def _find_segment(self, name: str) -> dict[str, Any] | None:
        def fetch(at: Offset) -> dict[str, Any]:
            try:
                return self.client.send(
                    SEGMENTS,
                    self.client.lists.list_segments,
                    self.audience_id,
                    type="static",
                    count=PAGE_MAX,
                    offset=at.offset,
                )
            except Exception as exc:
                if status_of(exc) == 404:
                    raise self._missing_audience() from None
                raise

        for page in paginate(SEGMENTS, fetch, OffsetPaging("segments")):
            for seg in page.data.get("segments") or []:
                if isinstance(seg, dict) and seg.get("name") == name:
                    return seg
        return None

    def read_members(self, remote_id: str) -> Iterator[str]:
        """Subscriber hashes carrying the tag (every status).

        Raises:
            InternalError: Mailchimp paged in a circle (see `syncd.http.paging`).
        """

        def fetch(at: Offset) -> dict[str, Any]:
            return self.client.send(
                SEGMENT_MEMBERS,
                self.client.lists.get_segment_members_list,
                self.audience_id,
                remote_id,
                count=PAGE_MAX,
                offset=at.offset,
                fields=["members.id", "members.email_address", "total_items"],
                include_cleaned="true",
                include_transactional="true",
                include_unsubscribed="true",
            )

        for page in paginate(SEGMENT_MEMBERS, fetch, OffsetPaging("members")):
            for m in page.data.get("members") or []:
                yield str(m.get("id") or subscriber_hash(str(m.get("email_address"))))

    def apply(
        self, remote_id: str, adds: Sequence[Member], removes: Sequence[Member]
    ) -> ApplyResult:
        """Tag and untag members (by address, 500 per array); never changes a status.

        Each `Member.email` must be the member's own address (the one its subscriber hash is
        made from), not another system's address for the same person.
        """
        result = ApplyResult()
        batches: list[list[tuple[Member, str]]] = []
        for action, members in (("add", adds), ("remove", removes)):
            valid = []
            for m in members:
                if m.email:
                    valid.append((m, action))
                else:
                    missing = MemberOutcome(
                        m.remote_id, action, "rejected", Reason.NO_EMAIL, "no email address"
                    )
                    result.add([missing])
            batches.append(valid)
        add_chunks = _chunks(batches[0], SEGMENT_BATCH_MAX)
        remove_chunks = _chunks(batches[1], SEGMENT_BATCH_MAX)
        for n in range(max(len(add_chunks), len(remove_chunks))):
            part = (add_chunks[n] if n < len(add_chunks) else []) + (
                remove_chunks[n] if n < len(remove_chunks) else []
            )
            result.add(send_split(part, lambda p: self._segment_call(remote_id, p), _key))
        return result

    def _segment_call(self, segment_id: str, part: list[tuple[Member, str]]) -> list[MemberOutcome]:
        body = {
            "members_to_add": [m.email for m, a in part if a == "add"],
            "members_to_remove": [m.email for m, a in part if a == "remove"],
        }
        data = self.client.send(
            "POST /lists/{list_id}/segments/{segment_id}",
            self.client.lists.batch_segment_members,
            body,
            self.audience_id,
            segment_id,
            write=True,
        )
        failed: dict[str, tuple[Reason, str]] = {}
        for err in data.get("errors") or []:
            words = str(err.get("error") or "refused")
            refusal = (member_reason(words), REDACTOR.text(words)[:300])
            for address in err.get("email_addresses") or []:
                failed[str(address).strip().lower()] = refusal
        out = []
        for m, action in part:
            refused = failed.get(str(m.email).strip().lower())
            # A refusal is never taken as done, a removal neither: the ledger keeps the tag
            # as syncd's until Mailchimp confirms it gone (or the member is seen gone).
            if refused is None:
                out.append(MemberOutcome(m.remote_id, action, "applied"))
            else:
                out.append(MemberOutcome(m.remote_id, action, "rejected", *refused))
        return out

    def close(self) -> None:
        """Close pooled connections."""
        self.client.close()


def _key(item: tuple[Member, str]) -> tuple[str, str]:
    return item[0].remote_id, item[1]


def _chunks(items: list[tuple[Member, str]], n: int) -> list[list[tuple[Member, str]]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _static(seg: dict[str, Any], name: str) -> str:
    if seg.get("type") not in (None, "static"):
        raise error_for(
            Reason.TARGET_KIND_CONFLICT,
            f"Mailchimp segment {name!r} (id {seg.get('id')}) is a {seg.get('type')} segment; "
            "syncd writes only tags (static segments)",
            api="mailchimp",
        )
    return str(seg.get("id"))


def _dig(record: dict[str, Any], path: str) -> Any:
    cur: Any = record
    for part in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
