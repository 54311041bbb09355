"""End-to-end benchmark: a full sync of N contacts at vendor limits, then a second run.

The sandbox runs in a child process (see `bench/harness.py`), so CPU and peak RSS are
syncd's alone. The second run is the incremental run that follows: it writes nothing but
re-reads what the first run's property writes touched (the echo). It starts once HubSpot's
rolling window (10 s) has let go of the first run's last calls, as any scheduled run does:
its floor counts the window's full burst as available, which a run started within those
10 s does not have (that cost it about 10 s).

Figures (last line, JSON):
- `api_calls`, `hubspot_calls`, `mailchimp_calls`, `http_429`: the full sync, every attempt.
- `lower_bound` (with `lower_bound_assumes`, the API options it counts on) and `calls_ratio`.
- `rate_floor_s`: the least time HubSpot's rolling window allows for its share of the lower
  bound (190 calls at once, then 190 more every 10 s); `wall_over_floor`. `split_floor_s`
  (`wall_over_split_floor`): the same when search may read part of the contacts on its own
  budget (200 per call, 4/s), as the split full pull does.
- `phases_s`: seconds per engine phase of the full sync (pull less merge, merge, drift,
  segment, plan, journal, apply); pull and apply overlap their own API threads.
- `cpu_s`, `cpu_s_per_1k_contacts`, `peak_rss_mb`: syncd's process only;
  `peak_rss_after_phase_mb`: the peak when each phase of the full sync last ended, so the
  phase where it jumps is the one that set it.
- `second_run_calls`, `second_run_s`, `second_run_started_after_s` (the pause before it),
  `second_run_phases_s`, `second_run_write_calls` (0),
  and `second_run_floor_s`: the least time to re-read the contacts the first run wrote
  properties on, with their deal and company values, by the cheaper of search (200 per call,
  4/s, the association and object reads beside it on the rolling window) and a full list
  scan (100 per call, sharing the rolling window with those reads), named in
  `second_run_floor_method`; `second_run_pages_floor_s` is that method's contact pages alone.

`--latency-ms L` makes the sandbox hold every vendor request L ms (a network's round trip).

Usage: python bench/e2e.py [--contacts 20000] [--seed 1] [--latency-ms 0] [--no-write-properties]
       [--no-second-run] [--db postgresql+psycopg://postgres@127.0.0.1/test]

`--db` runs the store on a fresh PostgreSQL database made on that server (dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    LOWER_BOUND_ASSUMES,
    WINDOW_S,
    Phases,
    calls_between,
    database,
    echo_floor,
    lower_bound,
    peak_rss_mb,
    rate_floor,
    sandbox_process,
    settings_for,
    split_floor,
    stats,
)

from syncd.logs import configure_logging
from syncd.runtime import open_runtime


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--db", default=None,
                        help="PostgreSQL server URL (default: SQLite)")  # fmt: skip
    parser.add_argument("--write-properties", action=argparse.BooleanOptionalAction,
                        default=True, help="hubspot.write_properties")  # fmt: skip
    parser.add_argument("--second-run", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the incremental run that reads the echo")  # fmt: skip
    args = parser.parse_args()
    configure_logging("warning", "json")
    phases = Phases()
    with (
        database(args.db) as url,
        sandbox_process(args.contacts, args.seed, args.latency_ms) as info,
        phases.installed(),
    ):
        rt = open_runtime(
            settings_for(info, write_properties=args.write_properties, database_url=url)
        )
        before = stats(info)
        cpu0, t0 = time.process_time(), time.perf_counter()
        first = rt.syncer.sync(trigger="manual", full=True)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        first_phases = phases.take()
        first_peaks = phases.last_peaks
        first_status, first_targets = str(first.status), first.counts.targets
        del first  # a daemon keeps no finished run's plan; neither does the second run here
        middle = stats(info)
        time.sleep(WINDOW_S)  # the first run's calls leave HubSpot's rolling window
        t1 = time.perf_counter()
        second = rt.syncer.sync(trigger="schedule") if args.second_run else None
        second_s = time.perf_counter() - t1
        second_phases = phases.take()
        second_peaks = phases.last_peaks
        after = stats(info)
        rt.close()

    calls = calls_between(before, middle)
    hs_lb, mc_lb = lower_bound(info, first_targets)
    floor = rate_floor(hs_lb)
    both = split_floor(info, hs_lb)
    echoed = max(
        (row.get("set", 0) for t, row in first_targets.items()
         if t.startswith("hubspot_property:")),
        default=0,
    )  # fmt: skip
    second_floor, pages_floor, method = echo_floor(info, echoed)
    n = info["n_contacts"]
    figures = {
        "contacts": n,
        "status": first_status,
        "second_run_status": str(second.status) if second else None,
        "write_properties": args.write_properties,
        "latency_ms": args.latency_ms,
        "store": url.split(":", 1)[0],
        "api_calls": calls["total"],
        "hubspot_calls": calls["hubspot"],
        "mailchimp_calls": calls["mailchimp"],
        "lower_bound": hs_lb + mc_lb,
        "lower_bound_assumes": LOWER_BOUND_ASSUMES,
        "calls_ratio": round(calls["total"] / (hs_lb + mc_lb), 4),
        "http_429": middle["http_429"] - before["http_429"],
        "wall_s": round(wall, 2),
        "rate_floor_s": floor,
        "wall_over_floor": round(wall / floor, 3) if floor else None,
        "split_floor_s": both,
        "wall_over_split_floor": round(wall / both, 3) if both else None,
        "phases_s": first_phases,
        "peak_rss_after_phase_mb": first_peaks,
        "cpu_s": round(cpu, 2),
        "cpu_s_per_1k_contacts": round(cpu / (n / 1000), 3) if n else None,
        "peak_rss_mb": peak_rss_mb(),
        "second_run_calls": calls_between(middle, after)["total"],
        "second_run_s": round(second_s, 2),
        "second_run_started_after_s": WINDOW_S,
        "second_run_phases_s": second_phases,
        "second_run_peak_rss_after_phase_mb": second_peaks,
        "second_run_echoed_contacts": echoed,
        "second_run_floor_s": round(second_floor, 2),
        "second_run_pages_floor_s": round(pages_floor, 2),
        "second_run_over_floor": round(second_s / second_floor, 3) if second_floor else None,
        "second_run_floor_method": method,
        "second_run_write_calls": sum(
            after[a]["writes"] - middle[a]["writes"] for a in ("hubspot", "mailchimp")
        ),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
