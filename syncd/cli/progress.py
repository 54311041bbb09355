"""Progress reporting for pulls and applies: bars on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

ProgressFn = Callable[[str, int], None]

_LABELS = {
    "pull:hubspot": "pulling HubSpot contacts",
    "pull:mailchimp": "pulling Mailchimp members",
    "hubspot": "writing HubSpot lists and properties",
    "mailchimp": "writing Mailchimp tags",
}


@contextmanager
def progress(console: Console, *, interval_s: float = 2.0) -> Iterator[ProgressFn]:
    """Yield a `(stream, n)` callback that shows progress in a way that suits the output.

    On a terminal each stream gets a live bar; otherwise a plain line per stream is printed at
    most every `interval_s` seconds, so logs in CI or a container stay readable.
    """
    if console.is_terminal:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed:,} records"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bars:
            tasks: dict[str, TaskID] = {}

            def on_bar(stream: str, n: int) -> None:
                if stream not in tasks:
                    tasks[stream] = bars.add_task(_LABELS.get(stream, stream), total=None)
                bars.advance(tasks[stream], n)

            yield on_bar
        return
    totals: dict[str, int] = {}
    last: dict[str, float] = {}

    def on_line(stream: str, n: int) -> None:
        totals[stream] = totals.get(stream, 0) + n
        now = time.monotonic()
        if now - last.get(stream, 0.0) >= interval_s:
            last[stream] = now
            console.print(f"{_LABELS.get(stream, stream)}: {totals[stream]:,}", highlight=False)

    yield on_line
    for stream, total in totals.items():
        console.print(f"{_LABELS.get(stream, stream)}: {total:,} done", highlight=False)
