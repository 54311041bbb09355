"""`serve_forever`: the sandbox in the foreground, for `syncd sandbox serve`."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

from syncd.sandbox.app import Sandbox
from syncd.sandbox.defaults import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    contacts: int = 1000,
    seed: int = 1,
    hubspot_token: str = DEFAULT_HUBSPOT_TOKEN,
    mailchimp_key: str = DEFAULT_MAILCHIMP_KEY,
) -> None:
    """Run the sandbox in the foreground until SIGTERM or SIGINT (`syncd sandbox serve`).

    Prints both base URLs and the audience id, then serves with the vendors' default limits.
    """
    sb = Sandbox(
        contacts,
        seed,
        host=host,
        port=port,
        hubspot_token=hubspot_token,
        mailchimp_key=mailchimp_key,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    sb.start()
    try:
        print(f"HubSpot:   {sb.hubspot_url}  (Bearer {sb.hubspot_token})")
        print(f"Mailchimp: {sb.mailchimp_url}  (key {sb.mailchimp_key}, audience {sb.audience_id})")
        print(f"Control:   {sb.base_url}/_sandbox/stats  ({contacts} contacts, seed {seed})")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sb.stop()
        for s, h in previous.items():
            signal.signal(s, h)
