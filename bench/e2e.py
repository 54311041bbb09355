"""End-to-end benchmark: a full sync of N contacts at vendor limits, then a no-op run.

The sandbox runs in a child process with HubSpot's and Mailchimp's default limits (190
requests per rolling 10 s, search 5/s, 10 concurrent Mailchimp connections), so its own CPU
does not count against syncd's.

Figures (last line, JSON):
- `api_calls`: calls the full sync made (both APIs, every attempt).
- `lower_bound`: the fewest calls the APIs allow for the same work: HubSpot list pages of 100,
  association reads of 1,000 (deals and companies), deal and company reads of 100, one list
  create per owned list and one membership call per 1,000 ids, two property creates and one
  batch update per 100 contacts; Mailchimp member pages of 1,000, one segment create per tag
  and one batch call per 500 members.
- `rate_floor_s`: the least time HubSpot's rolling window allows for its share of the lower
  bound (190 calls at once, then 190 more every 10 s).
- `noop_write_calls`: write calls of the second, incremental run (nothing changed: 0).

Usage: python bench/e2e.py [--contacts 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from syncd.config import HubSpotSettings, MailchimpSettings, Settings
from syncd.logs import configure_logging
from syncd.runtime import open_runtime
from syncd.store import upgrade

MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"
HS_PER_WINDOW, WINDOW_S = 190, 10.0


def _serve(contacts: int, seed: int, queue: Any, stop: Any) -> None:
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
    stop.wait()
    sb.stop()


def _stats(base_url: str) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{base_url}/_sandbox/stats", timeout=30).json()
    return stats


def lower_bound(info: dict[str, Any], targets: dict[str, dict[str, int]]) -> tuple[int, int]:
    """`(hubspot, mailchimp)` fewest calls for the data and the changes actually planned."""
    n = info["n_contacts"]
    hubspot = (
        math.ceil(n / 100)
        + 2 * math.ceil(n / 1000)
        + math.ceil(info["n_deals"] / 100)
        + math.ceil(info["n_companies"] / 100)
    )
    mailchimp = math.ceil(info["n_members"] / 1000)
    for target, row in targets.items():
        changes = row.get("planned_add", 0) + row.get("planned_remove", 0)
        if target.startswith("hubspot_list:"):
            hubspot += 1 + math.ceil(changes / 1000)
        elif target.startswith("mailchimp_tag:"):
            mailchimp += 1 + math.ceil(
                max(row.get("planned_add", 0), row.get("planned_remove", 0)) / 500
            )
        elif target.startswith("hubspot_property:"):
            hubspot += 2 + math.ceil(row.get("planned_set", 0) / 100)
    return hubspot, mailchimp


def rate_floor(hubspot_calls: int) -> float:
    """Least seconds a rolling 190-per-10-s window allows for this many calls."""
    return max(0, math.ceil(hubspot_calls / HS_PER_WINDOW) - 1) * WINDOW_S


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    configure_logging("warning", "json")

    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(args.contacts, args.seed, queue, stop), daemon=True)
    child.start()
    info = queue.get(timeout=900)
    db = Path(tempfile.mkdtemp()) / "bench.db"
    upgrade(f"sqlite:///{db}")
    settings = Settings(
        database_url=f"sqlite:///{db}",
        mappings=MAPPINGS,
        hubspot=HubSpotSettings(
            access_token=SecretStr(info["hubspot_token"]), base_url=info["hubspot_url"]
        ),
        mailchimp=MailchimpSettings(
            api_key=SecretStr(info["mailchimp_key"]),
            audience_id=info["audience_id"],
            base_url=info["mailchimp_url"],
        ),
    )
    try:
        rt = open_runtime(settings)
        before = _stats(info["base_url"])
        cpu0, t0 = time.process_time(), time.perf_counter()
        first = rt.syncer.sync(trigger="manual", full=True)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        middle = _stats(info["base_url"])
        second = rt.syncer.sync(trigger="schedule")
        after = _stats(info["base_url"])
        rt.close()
    finally:
        stop.set()
        child.join(timeout=60)

    calls = middle["requests"] - before["requests"]
    hs_calls = middle["hubspot"]["requests"] - before["hubspot"]["requests"]
    hs_lb, mc_lb = lower_bound(info, first.counts.targets)
    noop_writes = sum(after[a]["writes"] - middle[a]["writes"] for a in ("hubspot", "mailchimp"))
    figures = {
        "contacts": info["n_contacts"],
        "status": str(first.status),
        "noop_status": str(second.status),
        "api_calls": calls,
        "hubspot_calls": hs_calls,
        "mailchimp_calls": calls - hs_calls,
        "lower_bound": hs_lb + mc_lb,
        "calls_ratio": round(calls / (hs_lb + mc_lb), 4),
        "http_429": middle["http_429"] - before["http_429"],
        "wall_s": round(wall, 2),
        "rate_floor_s": rate_floor(hs_lb),
        "wall_over_floor": round(wall / rate_floor(hs_lb), 3) if rate_floor(hs_lb) else None,
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "noop_api_calls": after["requests"] - middle["requests"],
        "noop_write_calls": noop_writes,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
