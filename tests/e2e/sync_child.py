"""A sync in a child process, for the crash test: prints one line per applied batch.

Usage: python -m tests.e2e.sync_child HUBSPOT_URL MAILCHIMP_URL AUDIENCE_ID DB_URL
"""

from __future__ import annotations

import sys

from syncd.engine.wiring import open_runtime
from syncd.http import RetrySettings
from syncd.sandbox import Sandbox
from tests.e2e.helpers import make_settings


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


def main() -> None:
    hubspot_url, mailchimp_url, audience_id, db_url = sys.argv[1:5]
    settings = make_settings(_Addresses(hubspot_url, mailchimp_url, audience_id), db_url)
    rt = open_runtime(settings, retry=RetrySettings.immediate(timeout_s=5.0))

    def on_batch(stream: str, n: int) -> None:
        if not stream.startswith("pull:"):
            print(f"applied {stream} {n}", flush=True)

    result = rt.sync_engine.sync(trigger="manual", full=True, progress=on_batch)
    print(f"done {result.status}", flush=True)
    rt.close()


if __name__ == "__main__":
    main()
