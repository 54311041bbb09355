"""`syncd demo`: the whole product on a laptop in under a minute, against the sandbox.

Starts the embedded sandbox, runs one full sync into `./syncd-demo.db` (replaced on each
demo and kept afterwards for exploring), prints what happened, then runs an incremental sync
to show that nothing is written when nothing changed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from syncd.cli.progress import progress
from syncd.config import sandbox_settings
from syncd.engine.run_record import RunResult
from syncd.logs import configure_logging
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from syncd.store import AuditEvent, make_engine, upgrade
from syncd.store.types import table_of

DEMO_DB = Path("syncd-demo.db")


def default_mappings() -> Path:
    """`./mappings` when present, else the one beside the package (source checkouts)."""
    here = Path("mappings")
    if (here / "segments.yaml").is_file():
        return here
    return Path(__file__).resolve().parents[2] / "mappings"


def _fresh_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    upgrade(f"sqlite:///{db}")


def run_demo(console: Console, *, contacts: int = 2000, seed: int = 7, db: Path = DEMO_DB) -> int:
    """Run the demo; returns the exit code of the first sync."""
    started = time.perf_counter()
    configure_logging("warning", "auto")
    console.print(f"[bold]syncd demo[/]: {contacts:,} contacts, seed {seed}")
    with Sandbox(contacts=contacts, seed=seed) as sb:
        console.print(f"sandbox up: HubSpot {sb.hubspot_url}, Mailchimp {sb.mailchimp_url}")
        _fresh_db(db)
        settings = sandbox_settings(sb, f"sqlite:///{db}", default_mappings())
        rt = open_runtime(settings)
        try:
            with progress(console) as on_progress:
                first = rt.syncer.sync(trigger="manual", full=True, progress=on_progress)
            after_first = sb.stats()
            second = rt.syncer.sync(trigger="schedule")
            after_second = sb.stats()
        finally:
            rt.close()
    _summary(console, first, after_first)
    writes = sum(after_second[a]["writes"] - after_first[a]["writes"] for a in _APIS)
    calls = after_second["requests"] - after_first["requests"]
    console.print(
        f"\n[bold]second (incremental) run {second.run_id}[/]: {second.status}, "
        f"{calls} API calls, [bold]{writes} writes[/] (nothing changed, so nothing written)"
    )
    console.print(f"\ndone in {time.perf_counter() - started:.1f}s. Explore the result:")
    for cmd in (
        "runs",
        "audit --since 1h",
        "segments list",
        f"segments explain {_an_email(db, 'trial-to-paid')}",
    ):
        console.print(f"  SYNCD_DATABASE_URL=sqlite:///{db} syncd {cmd}", highlight=False)
    return first.exit_code


_APIS = ("hubspot", "mailchimp")


def _an_email(path: Path, segment: str) -> str:
    """An address from the demo data to try `segments explain` on."""
    db = make_engine(f"sqlite:///{path}")
    try:
        a = table_of(AuditEvent).c
        with db.connect() as conn:
            email = conn.execute(
                select(a.email).where(a.segment == segment, a.outcome == "applied").limit(1)
            ).scalar_one_or_none()
    finally:
        db.dispose()
    return str(email or "EMAIL")


def _summary(console: Console, result: RunResult, stats: Mapping[str, Any]) -> None:
    pulled = result.counts.pulled
    console.print(
        f"\n[bold]first (full) run {result.run_id}[/]: {result.status}; pulled "
        + ", ".join(f"{n:,} from {api}" for api, n in pulled.items())
    )
    if result.segmented is not None:
        stages = Table(title="Journey stages")
        stages.add_column("stage")
        stages.add_column("contacts", justify="right")
        for stage, n in result.segmented.stages.most_common():
            stages.add_row(stage, f"{n:,}")
        console.print(stages)
        sizes = Table(title="Segments")
        sizes.add_column("segment")
        sizes.add_column("contacts", justify="right")
        for key, n in sorted(result.segmented.sizes.items(), key=lambda kv: -kv[1]):
            sizes.add_row(key, f"{n:,}")
        console.print(sizes)
    changes = Table(title="Changes per target")
    cols = ("added", "removed", "set", "rejected", "retry", "skipped_consent")
    changes.add_column("target")
    for col in cols:
        changes.add_column(col, justify="right")
    for target, row in result.counts.targets.items():
        changes.add_row(target, *(f"{row.get(c, 0):,}" for c in cols))
    console.print(changes)
    calls = Table(title="API calls per endpoint")
    calls.add_column("api")
    calls.add_column("endpoint")
    calls.add_column("calls", justify="right")
    for api in _APIS:
        for endpoint, n in sorted(stats[api]["endpoints"].items(), key=lambda kv: -kv[1]):
            calls.add_row(api, endpoint, f"{n:,}")
    console.print(calls)
    console.print(f"API calls: {stats['requests']:,} in total, {stats['http_429']} answered 429")
