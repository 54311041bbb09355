"""Benchmark: an incremental run after P% of contacts changed segments in HubSpot.

Set-up, not measured: a sandbox of N contacts in a child process and a first full sync. Then
a person moves P percent of all contacts (taken from the leads and MQLs, in id order) to
`salesqualifiedlead` in HubSpot, 100 per batch update. That changes their journey stage and
their goal segment: out of `nurture-content` where they were in it, into
`evaluating-prospects` - removes and adds on memberships syncd already owns.
Measured: the next incremental run (`trigger="schedule"`).

The incremental pull also re-reads what the first run's own property writes touched (the
echo, within the 300 s overlap window) unless `--no-write-properties`; `echoed_contacts` says
how many, and `floor_s` counts only the changed contacts, so the gap shows the echo's cost.

Figures (last line, JSON): `changed` (contacts moved), `planned_add` / `planned_remove` /
`planned_set` and `applied` over all targets, `calls` (and per API), `wall_s`, `floor_calls`
(search pages of 200 for the changed contacts, one Mailchimp page, and the writes planned, as
`bench/harness.py` counts them), `floor_s` (search at 4/s or HubSpot's rolling window,
whichever binds), `phases_s`, `cpu_s`, `peak_rss_mb` (syncd's alone).

Usage: python bench/churn.py [--contacts 20000] [--change-pct 5] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SEARCH_PAGE,
    SEARCH_PER_S,
    Phases,
    rate_floor,
    run_figures,
    sandbox_process,
    settings_for,
    timed_sync,
    write_bound,
)

from syncd.engine.profiles.read import iter_contacts
from syncd.logs import configure_logging
from syncd.runtime import Runtime, open_runtime

MOVABLE = ("lead", "marketingqualifiedlead")
TO_STAGE = "salesqualifiedlead"


def move_contacts(rt: Runtime, info: dict[str, Any], count: int) -> int:
    """Move up to `count` leads and MQLs to SQL through HubSpot's batch update, as a person."""
    ids = [
        c.hubspot_id
        for c in iter_contacts(rt.db, rt.settings.workspace, rt.rules.fields)
        if c.hubspot_id is not None and c.profile.get("lifecycle_stage") in MOVABLE
    ][:count]
    for start in range(0, len(ids), 100):
        resp = requests.post(
            f"{info['hubspot_url']}/crm/v3/objects/contacts/batch/update",
            json={"inputs": [{"id": i, "properties": {"lifecyclestage": TO_STAGE}}
                             for i in ids[start : start + 100]]},
            headers={"Authorization": f"Bearer {info['hubspot_token']}",
                     "X-Sandbox-Actor": "person"},
            timeout=60,
        )  # fmt: skip
        resp.raise_for_status()
    return len(ids)


def main() -> None:
    """Set up, change P% of contacts, run the incremental sync, print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--change-pct", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-properties", action=argparse.BooleanOptionalAction,
                        default=True, help="hubspot.write_properties")  # fmt: skip
    args = parser.parse_args()
    configure_logging("warning", "json")
    phases = Phases()
    with sandbox_process(args.contacts, args.seed) as info:
        rt = open_runtime(settings_for(info, write_properties=args.write_properties))
        first = rt.syncer.sync(trigger="manual", full=True)
        echoed = sum(
            row.get("set", 0) for t, row in first.counts.targets.items()
            if t.startswith("hubspot_property:")
        )  # fmt: skip
        changed = move_contacts(rt, info, math.floor(info["n_contacts"] * args.change_pct / 100))
        run = timed_sync(rt, info, phases, trigger="schedule")
        rt.close()
    result = run.result
    totals: dict[str, int] = {}
    for row in result.counts.targets.values():
        for key, n in row.items():
            totals[key] = totals.get(key, 0) + n
    search_pages = math.ceil(changed / SEARCH_PAGE)
    wh, wm = write_bound(result.counts.targets, creates=False)
    floor_calls = search_pages + wh + 1 + wm
    floor = max((search_pages - 1) / SEARCH_PER_S if search_pages else 0.0, rate_floor(wh))
    figures = {
        "contacts": info["n_contacts"],
        "change_pct": args.change_pct,
        "changed": changed,
        "write_properties": args.write_properties,
        "echoed_contacts": echoed if args.write_properties else 0,
        "status": str(result.status),
        "planned_add": totals.get("planned_add", 0),
        "planned_remove": totals.get("planned_remove", 0),
        "planned_set": totals.get("planned_set", 0),
        "applied": totals.get("added", 0) + totals.get("removed", 0) + totals.get("set", 0),
    } | run_figures(run, phases, floor_calls, floor)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
