"""Benchmark: requests per second the sandbox serves for simple reads.

Starts its own sandbox in a child process (so client threads do not share its interpreter
lock), then several client threads with keep-alive `requests.Session`s fetch HubSpot contact
pages and Mailchimp members for a fixed duration. The HubSpot 10-second limit is raised for
the measurement (the default 190 per 10 s would cap it at 19 requests per second).
Last line: `{"requests_per_s": ...}`.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import threading
import time
from typing import Any

import requests
from harness import started


def _serve(contacts: int, seed: int, queue: Any, stop: Any) -> None:
    from syncd.sandbox import Limits, Sandbox

    # The rate limit is raised so the figure measures the server, not HubSpot's policy.
    sb = Sandbox(contacts, seed, limits=Limits(hubspot_per_10s=None, hubspot_daily=10**9))
    sb.start()
    queue.put(sb.info())
    stop.wait()
    sb.stop()


def _client(info: dict[str, Any], until: float) -> tuple[int, int]:
    """One keep-alive session: HubSpot contact pages, every fourth call a Mailchimp page."""
    s = requests.Session()
    hs_headers = {"Authorization": f"Bearer {info['hubspot_token']}"}
    token = base64.b64encode(f"anystring:{info['mailchimp_key']}".encode()).decode()
    mc_headers = {"Authorization": f"Basic {token}"}
    hs_url = f"{info['hubspot_url']}/crm/v3/objects/contacts?limit=10"
    hs_url += "&properties=email&properties=lifecyclestage&after="
    mc_url = f"{info['mailchimp_url']}/lists/{info['audience_id']}/members?count=10&offset="
    n = errors = 0
    while time.perf_counter() < until:
        if n % 4 == 3:
            r = s.get(f"{mc_url}{(n * 10) % 500}", headers=mc_headers)
        else:
            r = s.get(f"{hs_url}{1 + (n * 10) % 500}", headers=hs_headers)
        errors += r.status_code != 200
        n += 1
    return n, errors


def _client_process(info: dict[str, Any], until_wall: float, threads: int, out: Any) -> None:
    """Several client threads in one process.

    Clients are spread over processes so the client side's interpreter lock does not cap the
    measurement.
    """
    until = time.perf_counter() + (until_wall - time.time())
    results: list[tuple[int, int]] = []
    workers = [
        threading.Thread(target=lambda: results.append(_client(info, until)))
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((sum(r[0] for r in results), sum(r[1] for r in results)))


def main() -> None:
    """Run the benchmark and print the JSON figures last."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    ctx = mp.get_context("spawn")
    queue, stop = ctx.Queue(), ctx.Event()
    t0 = time.perf_counter()
    proc = ctx.Process(target=_serve, args=(args.contacts, args.seed, queue, stop), daemon=True)
    proc.start()
    info = started(proc, queue, 120)
    startup = time.perf_counter() - t0
    out = ctx.Queue()
    until_wall = time.time() + 1.0 + args.seconds  # clients start together after spawning
    per_proc = max(1, args.threads // args.processes)
    clients = [
        ctx.Process(target=_client_process, args=(info, until_wall, per_proc, out))
        for _ in range(args.processes)
    ]
    for c in clients:
        c.start()
    results = [out.get(timeout=args.seconds + 120) for _ in clients]
    for c in clients:
        c.join()
    elapsed = args.seconds
    total, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    stats = requests.get(f"{info['hubspot_url']}/_sandbox/stats", timeout=10).json()
    stop.set()
    proc.join(timeout=10)
    print(f"sandbox with {args.contacts} contacts started in {startup:.2f}s (child process)")
    print("note: HubSpot's 190/10s limit was raised for this measurement; other limits default")
    print(
        f"{total} reads by {per_proc * args.processes} keep-alive clients in {elapsed:.2f}s, "
        f"{errors} non-200, server counted {stats['requests']}"
    )
    print(
        json.dumps(
            {
                "requests_per_s": round(total / elapsed, 1),
                "requests": total,
                "errors": errors,
                "threads": per_proc * args.processes,
                "client_processes": args.processes,
                "contacts": args.contacts,
                "seed": args.seed,
                "hubspot_rate_limit_raised": True,
            }
        )
    )


if __name__ == "__main__":
    main()
