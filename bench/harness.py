"""What the sync benchmarks share: a sandbox in a child process, a runtime, phases and floors.

The sandbox runs in its own process with HubSpot's and Mailchimp's default limits (190
requests per rolling 10 s, search 4-5/s, 10 concurrent Mailchimp connections), so its CPU and
memory do not count against syncd's: `resource.getrusage(RUSAGE_SELF)` and
`time.process_time()` in the benchmark are syncd's alone.

`Phases` times the real engine functions of a run (pull, merge, drift, segment, plan,
journal, apply) by wrapping them where the engine looks them up; nothing in the product
changes. `lower_bound` and `rate_floor` state the API options they assume.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import requests
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncd.config import HubSpotSettings, MailchimpSettings, Settings
from syncd.store import upgrade
from syncd.store.db import normalise_url

MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"
HS_PER_WINDOW, WINDOW_S = 190, 10.0
#: HubSpot search: 4 per second is the stricter of the two documented figures.
SEARCH_PER_S = 4
SEARCH_PAGE, LIST_PAGE = 200, 100

#: The API options `lower_bound` assumes, printed beside it.
LOWER_BOUND_ASSUMES = (
    "HubSpot: contact list pages of 100 (GET /crm/v3/objects/contacts), association batch "
    "reads of 1,000 inputs per direction (deals, companies), deal and company batch reads of "
    "100, one list create per owned list and one membership call per 1,000 record ids, two "
    "property creates and one batch update per 100 contacts; Mailchimp: member pages of "
    "1,000, one segment create per tag and one batch call per 500 members. Not assumed: "
    "the list endpoint's inline associations option (which could fold the association reads "
    "into the contact pages). Contacts are counted as list pages: a split full pull reads "
    "part of them by search at 200 per call, so its calls can fall below this bound."
)


def _serve(contacts: int, seed: int, queue: Any, stop: Any, parent: int) -> None:
    """The child: serve until told to stop, or until the benchmark that started it is gone.

    A benchmark killed by a signal runs no `finally`; without the check its sandbox (GBs at a
    million contacts) would live on.
    """
    from syncd.sandbox import Sandbox

    sb = Sandbox(contacts, seed)
    crm, audience = sb.hubspot, sb.mailchimp
    queue.put(
        {
            **sb.info(),
            "base_url": sb.base_url,
            "n_contacts": len(crm.contact_ids),
            "n_deals": len({d for ids in crm.contact_deals.values() for d in ids}),
            "n_companies": len({c for ids in crm.contact_companies.values() for c in ids}),
            "n_members": len(audience.members),
        }
    )
    sb.start()
    while not stop.wait(1.0) and os.getppid() == parent:
        pass
    sb.stop()


def started(child: Any, queue: Any, timeout_s: float = 900.0) -> dict[str, Any]:
    """The info a sandbox child puts on `queue` once its data is built.

    Building a million contacts takes minutes, so the wait is long; a child that died (a
    script without a `__main__` guard, an import error) fails the benchmark at once instead.

    Raises:
        RuntimeError: The child exited, or sent nothing within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            info: dict[str, Any] = queue.get(timeout=1.0)
            return info
        except Empty:
            if not child.is_alive():
                raise RuntimeError(
                    f"the sandbox process exited (code {child.exitcode}) before it was ready"
                ) from None
    raise RuntimeError(f"the sandbox process was not ready within {timeout_s:.0f} s")


@contextmanager
def sandbox_process(contacts: int, seed: int, latency_ms: float = 0) -> Iterator[dict[str, Any]]:
    """A sandbox in a child process; yields its info (urls, credentials, data sizes).

    `latency_ms` holds every vendor request that long, as a network to the vendors would.
    """
    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(contacts, seed, queue, stop, os.getpid()), daemon=True)
    child.start()
    try:
        info = started(child, queue)
        if latency_ms:
            requests.post(
                f"{info['base_url']}/_sandbox/faults", json={"latency_ms": latency_ms}, timeout=30
            ).raise_for_status()
        yield info
    finally:
        stop.set()
        child.join(timeout=60)


@contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A fresh, migrated database URL: a temporary SQLite file, or a new PostgreSQL database."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    admin_url = normalise_url(server_url)
    name = f"syncd_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings_for(
    info: dict[str, Any], *, write_properties: bool = True, database_url: str | None = None
) -> Settings:
    """Settings against the sandbox, on `database_url` (migrated) or a fresh SQLite store.

    The SQLite store goes when we exit (a 1M-contact store is GBs).
    """
    if database_url is None:
        folder = tempfile.mkdtemp(prefix="syncd-bench-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        database_url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(database_url)
    return Settings(
        database_url=database_url,
        mappings=MAPPINGS,
        hubspot=HubSpotSettings(
            access_token=SecretStr(info["hubspot_token"]),
            base_url=info["hubspot_url"],
            write_properties=write_properties,
        ),
        mailchimp=MailchimpSettings(
            api_key=SecretStr(info["mailchimp_key"]),
            audience_id=info["audience_id"],
            base_url=info["mailchimp_url"],
        ),
    )


def stats(info: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's request counters."""
    out: dict[str, Any] = requests.get(f"{info['base_url']}/_sandbox/stats", timeout=30).json()
    return out


def calls_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """Calls per API (and in total) between two `stats` snapshots."""
    hs = after["hubspot"]["requests"] - before["hubspot"]["requests"]
    total = after["requests"] - before["requests"]
    return {"total": total, "hubspot": hs, "mailchimp": total - hs}


def read_bound(info: dict[str, Any]) -> tuple[int, int]:
    """`(hubspot, mailchimp)` fewest calls to read everything once (see LOWER_BOUND_ASSUMES)."""
    n = info["n_contacts"]
    hubspot = (
        math.ceil(n / LIST_PAGE)
        + 2 * math.ceil(n / 1000)
        + math.ceil(info["n_deals"] / 100)
        + math.ceil(info["n_companies"] / 100)
    )
    return hubspot, math.ceil(info["n_members"] / 1000)


def write_bound(targets: dict[str, dict[str, int]], *, creates: bool) -> tuple[int, int]:
    """`(hubspot, mailchimp)` fewest calls for the changes a run planned."""
    hubspot = mailchimp = 0
    for target, row in targets.items():
        adds, removes = row.get("planned_add", 0), row.get("planned_remove", 0)
        if target.startswith("hubspot_list:"):
            # Adds and removes are separate calls.
            hubspot += creates + math.ceil(adds / 1000) + math.ceil(removes / 1000)
        elif target.startswith("mailchimp_tag:"):
            # One batch call carries both adds and removes of 500 members.
            mailchimp += creates + math.ceil(max(adds, removes) / 500)
        elif target.startswith("hubspot_property:"):
            hubspot += 2 * creates + math.ceil(row.get("planned_set", 0) / 100)
    return hubspot, mailchimp


def lower_bound(info: dict[str, Any], targets: dict[str, dict[str, int]]) -> tuple[int, int]:
    """`(hubspot, mailchimp)` fewest calls for a first full sync and the changes it planned."""
    rh, rm = read_bound(info)
    wh, wm = write_bound(targets, creates=True)
    return rh + wh, rm + wm


def rate_floor(hubspot_calls: int) -> float:
    """Least seconds a rolling 190-per-10-s window allows for this many calls."""
    return max(0, math.ceil(hubspot_calls / HS_PER_WINDOW) - 1) * WINDOW_S


def split_floor(info: dict[str, Any], hubspot_calls: int) -> float:
    """Least seconds for `hubspot_calls` when search may read part of the contacts.

    The full pull's split read (`connectors/hubspot/split.py`) takes contact pages off the
    rolling window: each search page reads 200 at 4 calls per second on search's own budget.
    The best split balances the two; `hubspot_calls` counts every contact as a list page.
    """
    list_pages = math.ceil(info["n_contacts"] / LIST_PAGE)
    other = hubspot_calls - list_pages
    best = rate_floor(hubspot_calls)
    for searched in range(1, math.ceil(info["n_contacts"] / SEARCH_PAGE) + 1):
        left = math.ceil(max(0, info["n_contacts"] - searched * SEARCH_PAGE) / LIST_PAGE)
        search_s = (searched - 1) / SEARCH_PER_S
        if search_s >= best:
            break
        best = min(best, max(rate_floor(other + left), search_s))
    return best


def echo_floor(info: dict[str, Any], changed: int) -> tuple[float, float, str]:
    """Least seconds to re-read `changed` contacts with their deal and company values.

    Search: 200 per call at 4 calls per second, while the association and object reads
    (`enrich_bound`) run beside it on the rolling window. A list scan: every contact, 100 per
    call, sharing the rolling window with those reads. Returns the cheaper time, the time of
    its contact pages alone (the floor as first defined, without enrichment) and the method.
    """
    if changed <= 0:
        return 0.0, 0.0, "none"
    enrich = enrich_bound(info, changed)
    pages = max(0, math.ceil(changed / SEARCH_PAGE) - 1) / SEARCH_PER_S
    search = max(pages, rate_floor(enrich))
    scan_pages = math.ceil(info["n_contacts"] / LIST_PAGE)
    scan = rate_floor(scan_pages + enrich)
    if search <= scan:
        return search, pages, "search"
    return scan, rate_floor(scan_pages), "list_scan"


def enrich_bound(info: dict[str, Any], changed: int) -> int:
    """Fewest calls for the deal and company values of `changed` contacts.

    Association reads of 1,000 per direction, and the share of deals and companies those
    contacts hold (as many as the whole portal's when all changed), read 100 at a time.
    """
    share = min(1.0, changed / max(1, int(info["n_contacts"])))
    deals, companies = int(info["n_deals"]), int(info["n_companies"])
    return (
        2 * math.ceil(changed / 1000)
        + math.ceil(share * deals / 100)
        + math.ceil(share * companies / 100)
    )


def peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Phases:
    """Seconds spent in each engine phase of the runs made while installed.

    Wraps the functions `syncd.engine.syncer` and `syncd.engine.pull` call: `pull` is the
    whole of `pull_all` less the page merges (`merge`), which it calls on its own thread;
    `segment` is `segment_store` less the planning of each batch (`plan`) it hands on.
    """

    NAMES = ("pull", "merge", "drift", "segment", "plan", "journal", "apply")

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        #: The process's peak RSS (MB) when each phase last ended: the first phase whose
        #: figure jumps is the one that set the peak.
        self.peak_after: dict[str, float] = {}
        #: `peak_after` of the runs before the last `take`.
        self.last_peaks: dict[str, float] = {}
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    def _wrap(self, owner: Any, attr: str, phase: str) -> None:
        original = getattr(owner, attr)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[phase] += time.perf_counter() - start
                    self.peak_after[phase] = peak_rss_mb()

        setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    @contextmanager
    def installed(self) -> Iterator[Phases]:
        """Time the phases of the runs made inside the block."""
        from syncd.engine import pull, syncer

        self._wrap(syncer, "pull_all", "pull_all")
        self._wrap(pull, "merge_page", "merge")
        self._wrap(syncer, "detect_drift", "drift")
        self._wrap(syncer, "segment_store", "segment")
        self._wrap(syncer.Planner, "add", "plan")  # called from inside segment_store
        self._wrap(syncer, "write_outbox", "journal")
        self._wrap(syncer, "apply_run", "apply")
        try:
            yield self
        finally:
            for undo in reversed(self._undo):
                undo()
            self._undo.clear()

    def take(self) -> dict[str, float]:
        """The seconds per phase since the last `take`, rounded; resets the counters."""
        with self._lock:
            got = dict(self.seconds)
            self.seconds.clear()
            self.last_peaks = {
                ("pull" if k == "pull_all" else k): v for k, v in self.peak_after.items()
            }
            self.peak_after = {}
        got["pull"] = got.pop("pull_all", 0.0) - got.get("merge", 0.0)
        got["segment"] = got.get("segment", 0.0) - got.get("plan", 0.0)
        return {name: round(got.get(name, 0.0), 2) for name in self.NAMES}


@dataclass
class TimedRun:
    """One sync run with the sandbox's counters around it and syncd's time and CPU."""

    result: Any
    wall: float
    cpu: float
    before: dict[str, Any]
    after: dict[str, Any]


def timed_sync(rt: Any, info: dict[str, Any], phases: Phases, **kwargs: Any) -> TimedRun:
    """Run `rt.syncer.sync(**kwargs)` with the phase timers installed; time and count it."""
    with phases.installed():
        before = stats(info)
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = rt.syncer.sync(**kwargs)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        after = stats(info)
    return TimedRun(result, wall, cpu, before, after)


def run_figures(run: TimedRun, phases: Phases, floor_calls: int, floor_s: float) -> dict[str, Any]:
    """The figures every single-run benchmark prints: calls against a floor, time, memory."""
    calls = calls_between(run.before, run.after)
    return {
        "calls": calls["total"],
        "hubspot_calls": calls["hubspot"],
        "mailchimp_calls": calls["mailchimp"],
        "floor_calls": floor_calls,
        "calls_ratio": round(calls["total"] / floor_calls, 4) if floor_calls else None,
        "http_429": run.after["http_429"] - run.before["http_429"],
        "wall_s": round(run.wall, 2),
        "floor_s": round(floor_s, 2),
        "wall_over_floor": round(run.wall / floor_s, 3) if floor_s else None,
        "phases_s": phases.take(),
        "cpu_s": round(run.cpu, 2),
        "peak_rss_mb": peak_rss_mb(),
    }
