"""Benchmark: a full pull of both connectors from the sandbox at the vendors' default limits.

Starts its own sandbox in a child process (so its data and threads are not measured here),
pulls every HubSpot contact (with deal and company values) and every Mailchimp member through
the real connectors, and prints figures. Records are counted and dropped, so the process's
peak memory shows whether the pull streams (compare `--contacts 10000` with `50000`).

- `lower_bound`: the fewest calls the APIs allow: HubSpot list pages of 100, association reads
  of 1,000 (deals and companies), deal and company batch reads of 100, Mailchimp pages of 1,000.
- `rate_utilization`: HubSpot calls over the most its rolling limit (190 per 10 s) permits in
  the time the HubSpot pull took, `limit * (seconds / window + 1)`: a run that keeps the budget
  busy scores 1.0. (The plain `calls / seconds / 19` exceeds 1 for short runs, as the first
  window's 190 calls can go at once.)

Last line: `{"contacts", "api_calls", "lower_bound", "calls_ratio", "rate_utilization",
"http_429", "wall_s", "cpu_s", "peak_rss_mb", ...}`.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

import requests
import yaml
from harness import started

from connectors.base import FieldMap
from connectors.hubspot import HubSpotConnector
from connectors.mailchimp import MailchimpConnector
from syncd.http import ApiStats, RetrySettings

LIMIT, WINDOW_S = 190, 10.0
MAPPINGS = Path(__file__).resolve().parent.parent / "mappings" / "fields.yaml"


def _serve(contacts: int, seed: int, queue: Any, stop: Any) -> None:
    from syncd.sandbox import Sandbox

    sb = Sandbox(contacts, seed)  # the vendors' default limits
    crm, audience = sb.hubspot, sb.mailchimp
    deals = {d for ids in crm.contact_deals.values() for d in ids}
    companies = {c for ids in crm.contact_companies.values() for c in ids}
    sb.start()
    queue.put(
        {
            **sb.info(),
            "base_url": sb.base_url,
            "n_contacts": len(crm.contact_ids),
            "n_deals": len(deals),
            "n_companies": len(companies),
            "n_members": len(audience.members),
        }
    )
    stop.wait()
    sb.stop()


def field_map() -> FieldMap:
    """The default mappings' field map (what `syncd sync` would read)."""
    fields = yaml.safe_load(MAPPINGS.read_text())["fields"]
    return FieldMap.from_paths(
        {k: v["hubspot"] for k, v in fields.items() if "hubspot" in v},
        {k: v["mailchimp"] for k, v in fields.items() if "mailchimp" in v},
    )


def lower_bound(info: dict[str, Any]) -> int:
    """Fewest calls the APIs allow for this data."""
    n = info["n_contacts"]
    return (
        math.ceil(n / 100)
        + 2 * math.ceil(n / 1000)
        + math.ceil(info["n_deals"] / 100)
        + math.ceil(info["n_companies"] / 100)
        + math.ceil(info["n_members"] / 1000)
    )


def _drain(connector: Any, out: dict[str, Any], key: str) -> None:
    t0 = time.perf_counter()
    count = 0
    for page in connector.pull(None, full=True):
        count += len(page.records)
    out[key] = (count, time.perf_counter() - t0)


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_serve, args=(args.contacts, args.seed, queue, stop), daemon=True)
    child.start()
    info = started(child, queue, 600)
    try:
        stats = ApiStats()
        fmap = field_map()
        retry = RetrySettings(timeout_s=60.0)
        hubspot = HubSpotConnector(
            access_token=info["hubspot_token"],
            base_url=info["hubspot_url"],
            field_map=fmap,
            retry=retry,
            stats=stats,
        )
        mailchimp = MailchimpConnector(
            api_key=info["mailchimp_key"],
            base_url=info["mailchimp_url"],
            audience_id=info["audience_id"],
            field_map=fmap,
            retry=retry,
            stats=stats,
        )
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        results: dict[str, Any] = {}
        # One after the other, as `syncd sync` pulls them.
        _drain(hubspot, results, "hubspot")
        _drain(mailchimp, results, "mailchimp")
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        served = requests.get(f"{info['base_url']}/_sandbox/stats", timeout=10).json()
    finally:
        stop.set()
        child.join(timeout=30)

    hs_calls = stats.api("hubspot").api_calls
    mc_calls = stats.api("mailchimp").api_calls
    hs_s = results["hubspot"][1]
    bound = lower_bound(info)
    calls = hs_calls + mc_calls
    figures = {
        "contacts": results["hubspot"][0],
        "mailchimp_members": results["mailchimp"][0],
        "api_calls": calls,
        "hubspot_calls": hs_calls,
        "mailchimp_calls": mc_calls,
        "lower_bound": bound,
        "calls_ratio": round(calls / bound, 4),
        "rate_utilization": round(hs_calls / (LIMIT * (hs_s / WINDOW_S + 1)), 4),
        "hubspot_rate_per_s": round(hs_calls / hs_s, 2),
        "http_429": int(served["http_429"]),
        "hubspot_s": round(hs_s, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
