"""Running the built-in emulator in the foreground, and telling people how to point syncd at it.

`syncd sandbox serve` and `syncd demo --serve` both end here: they print the exact settings
(environment variables and the same as `syncd.yaml` keys) that make `syncd sync`, `plan`,
`apply` and the console talk to the emulator, then serve until SIGTERM or Ctrl-C.

Only these two commands import this module, and it imports the emulator lazily, so every other
command starts without it (see the import contracts).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Mapping
from types import FrameType
from typing import TYPE_CHECKING

from rich.console import Console

from syncd.cli.text import line

if TYPE_CHECKING:
    from syncd.sandbox import Sandbox

#: Where `syncd sandbox serve` and `syncd demo --serve` listen unless told otherwise; the
#: demo's `syncd-demo.yaml` points here.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def vendor_settings(
    hubspot_url: str, hubspot_token: str, mailchimp_url: str, mailchimp_key: str, audience: str
) -> dict[str, dict[str, str]]:
    """The `hubspot:` and `mailchimp:` sections that point syncd at an emulator."""
    return {
        "hubspot": {"access_token": hubspot_token, "base_url": hubspot_url},
        "mailchimp": {"api_key": mailchimp_key, "base_url": mailchimp_url, "audience_id": audience},
    }


def sandbox_sections(sb: Sandbox) -> dict[str, dict[str, str]]:
    """`vendor_settings` of a running emulator."""
    return vendor_settings(
        sb.hubspot_url, sb.hubspot_token, sb.mailchimp_url, sb.mailchimp_key, sb.audience_id
    )


def print_settings(console: Console, sections: Mapping[str, Mapping[str, str]]) -> None:
    """Print the settings as `export SYNCD_...` lines and as `syncd.yaml` keys."""
    console.print(line(("Point syncd at it with these environment variables:", "bold")))
    for section, values in sections.items():
        for key, value in values.items():
            name = f"SYNCD_{section.upper()}__{key.upper()}"
            console.print(line(f"  export {name}={value}"), highlight=False)
    console.print(line(("or with these keys in syncd.yaml:", "bold")))
    for section, values in sections.items():
        console.print(line(f"  {section}:"), highlight=False)
        for key, value in values.items():
            console.print(line(f"    {key}: {value}"), highlight=False)


def serve_until_stopped(console: Console, sb: Sandbox) -> None:
    """Serve `sb` (already bound) until SIGTERM or SIGINT, then stop it."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    sb.start()
    try:
        console.print(
            line(f"emulator serving on {sb.base_url} (stats: {sb.base_url}/_sandbox/stats)"),
            highlight=False,
        )
        print_settings(console, sandbox_sections(sb))
        console.print(line("Ctrl-C or SIGTERM stops it."))
        console.file.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sb.stop()
        for s, h in previous.items():
            signal.signal(s, h)
