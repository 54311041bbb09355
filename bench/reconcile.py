"""Benchmark: the nightly reconcile (full pull + drift detection) after a first full sync.

Set-up, not measured: a sandbox of N contacts in a child process, a first full sync, then a
person removes `--drift-pct` percent of the members of every owned HubSpot list by hand (the
drift the reconcile must find). Measured: `sync(trigger="reconcile", full=True)`, the run the
daemon makes on `schedule.reconcile_cron`.

Figures (last line, JSON): `calls` (and per API), `wall_s`, `floor_calls` (the fewest calls
for the same work: everything read once as `bench/harness.py` LOWER_BOUND_ASSUMES says, each
owned HubSpot list's memberships at 250 per page, each owned tag's members at 1,000 per page,
and the writes the reconcile planned), `floor_s` (HubSpot's rolling window for its share),
`drift_found` (hand removals recorded), `phases_s`, `cpu_s`, `peak_rss_mb` (syncd's alone).

Usage: python bench/reconcile.py [--contacts 20000] [--seed 1] [--drift-pct 1]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    LOWER_BOUND_ASSUMES,
    Phases,
    rate_floor,
    read_bound,
    run_figures,
    sandbox_process,
    settings_for,
    timed_sync,
    write_bound,
)

from syncd.logs import configure_logging
from syncd.runtime import open_runtime
from syncd.store.models import Contact, Membership, MembershipState, RemoteTarget
from syncd.store.types import table_of

MEMBERSHIPS_PAGE, TAG_MEMBERS_PAGE = 250, 1000


def remove_by_hand(db: Engine, info: dict[str, Any], pct: float) -> int:
    """Remove `pct` percent of each owned HubSpot list's members through the API."""
    rt, m, c = table_of(RemoteTarget).c, table_of(Membership).c, table_of(Contact).c
    with db.connect() as conn:
        lists = conn.execute(
            select(rt.target, rt.remote_id).where(rt.target.like("hubspot_list:%"))
        ).all()
        removed = 0
        for target, list_id in lists:
            members = sorted(
                conn.execute(
                    select(c.hubspot_id)
                    .join_from(table_of(Membership), table_of(Contact), m.contact_id == c.id)
                    .where(m.target == target, m.state == MembershipState.ADDED)
                ).scalars()
            )
            victims = members[: math.floor(len(members) * pct / 100)]
            for start in range(0, len(victims), 1000):
                resp = requests.put(
                    f"{info['hubspot_url']}/crm/v3/lists/{list_id}/memberships/remove",
                    json=victims[start : start + 1000],
                    headers={"Authorization": f"Bearer {info['hubspot_token']}"},
                    timeout=60,
                )
                resp.raise_for_status()
            removed += len(victims)
    return removed


def main() -> None:
    """Set up, run the reconcile, print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drift-pct", type=float, default=1.0)
    args = parser.parse_args()
    configure_logging("warning", "json")
    phases = Phases()
    with sandbox_process(args.contacts, args.seed) as info:
        rt = open_runtime(settings_for(info))
        rt.syncer.sync(trigger="manual", full=True)
        removed = remove_by_hand(rt.db, info, args.drift_pct)
        run = timed_sync(rt, info, phases, trigger="reconcile", full=True)
        rt.close()
    result = run.result
    rh, rm = read_bound(info)
    for target, owned in result.plan.owned.items():
        if target.startswith("hubspot_list:"):
            rh += max(1, math.ceil(owned / MEMBERSHIPS_PAGE))
        elif target.startswith("mailchimp_tag:"):
            rm += max(1, math.ceil(owned / TAG_MEMBERS_PAGE))
    wh, wm = write_bound(result.counts.targets, creates=False)
    floor = rate_floor(rh + wh)
    found = sum(d.get("removed_by_hand", 0) for d in result.counts.drift.values())
    figures = {
        "contacts": info["n_contacts"],
        "status": str(result.status),
        "floor_assumes": LOWER_BOUND_ASSUMES
        + f" Drift: list memberships {MEMBERSHIPS_PAGE} per page, tag members "
        f"{TAG_MEMBERS_PAGE} per page.",
        "removed_by_hand": removed,
        "drift_found": found,
    } | run_figures(run, phases, rh + wh + rm + wm, floor)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
