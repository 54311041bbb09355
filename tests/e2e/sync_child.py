"""A sync in a child process, for the crash and fencing tests: prints one line per applied batch.

Usage: python -m tests.e2e.sync_child HUBSPOT_URL MAILCHIMP_URL AUDIENCE_ID DB_URL
       [--lease-ttl 3s] [--hubspot-only] [--pause-after-first-batch] [--stop-after-batches N]

Prints `done <status>` at the end and exits with the run's exit code. With
`--pause-after-first-batch` it stops itself (SIGSTOP) right after its first applied batch was
recorded, outside any database transaction, so a test can take its lease over meanwhile; it
goes on after SIGCONT and a line on its stdin. With `--stop-after-batches N` it stops itself
after its Nth applied batch and stays stopped: the crash test kills it there, with the rest of
the run certainly still to do (however slowly the test itself is scheduled).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from syncd.config import SafetySettings, sandbox_settings
from syncd.http import RetrySettings
from syncd.logs import configure_logging
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from tests.e2e.helpers import MAPPINGS


class _Addresses(Sandbox):
    """Only the addresses and credentials of a sandbox running elsewhere."""

    def __init__(self, hubspot_url: str, mailchimp_url: str, audience_id: str) -> None:
        self._urls = (hubspot_url, mailchimp_url, audience_id)
        self.hubspot_token = "sandbox-hubspot-token"
        self.mailchimp_key = "sandbox-mailchimp-key-us1"

    @property
    def hubspot_url(self) -> str:
        return self._urls[0]

    @property
    def mailchimp_url(self) -> str:
        return self._urls[1]

    @property
    def audience_id(self) -> str:
        return self._urls[2]


def _pause_until_continued() -> None:
    """Stop this process (SIGSTOP); once continued, go on only after a line on stdin.

    A process stopping itself is not stopped at once: this thread may run on for a while
    before the kernel parks it, which would let it start its next batch early. The test sends
    SIGCONT and then the line.
    """
    os.kill(os.getpid(), signal.SIGSTOP)
    sys.stdin.readline()


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("hubspot_url", "mailchimp_url", "audience_id", "db_url"):
        parser.add_argument(name)
    parser.add_argument("--lease-ttl")
    parser.add_argument("--hubspot-only", action="store_true")
    parser.add_argument("--pause-after-first-batch", action="store_true")
    parser.add_argument("--stop-after-batches", type=int, default=0)
    args = parser.parse_args()
    configure_logging("info", "json")  # to stderr: stdout carries only the lines above
    safety = SafetySettings(lease_ttl=args.lease_ttl) if args.lease_ttl else None
    addresses = _Addresses(args.hubspot_url, args.mailchimp_url, args.audience_id)
    settings = sandbox_settings(addresses, args.db_url, MAPPINGS, safety)
    if args.hubspot_only:
        settings = settings.model_copy(update={"mailchimp": None})
    rt = open_runtime(settings, retry=RetrySettings.immediate(timeout_s=5.0))
    if args.pause_after_first_batch:
        # Fenced writes keep the lease alive while it works; with no heartbeat the pause
        # cannot land inside a renewal's transaction.
        rt.syncer.lease_heartbeat_s = 3600.0
    paused = False
    applied = 0

    def on_batch(stream: str, n: int) -> None:
        nonlocal paused, applied
        if stream.startswith("pull:"):
            return
        print(f"applied {stream} {n}", flush=True)
        applied += 1
        if applied == args.stop_after_batches:
            os.kill(os.getpid(), signal.SIGSTOP)  # for good: the test kills it
        if args.pause_after_first_batch and not paused:
            paused = True
            _pause_until_continued()

    result = rt.syncer.sync(trigger="manual", full=True, progress=on_batch)
    print(f"done {result.status}", flush=True)
    rt.close()
    sys.exit(result.exit_code)


if __name__ == "__main__":
    main()
