"""`syncd demo`: the whole product on a laptop in under a minute, against the sandbox.

Starts the embedded sandbox, runs one full sync into `./syncd-demo.db` (replaced on each
demo and kept afterwards for exploring), prints what happened, then runs an incremental sync
to show that nothing is written when nothing changed. It leaves `./syncd-demo.yaml` behind,
pointing at that database and at the emulator's address, and prints commands that run
verbatim from this directory. With `--serve` the emulator stays up at that address, so
`sync`, `apply` and the console work live against the same data.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from syncd.cli.emulator import DEFAULT_HOST, DEFAULT_PORT, serve_until_stopped, vendor_settings
from syncd.cli.progress import progress
from syncd.config import sandbox_settings
from syncd.engine.run_record import RunResult
from syncd.logs import configure_logging
from syncd.runtime import open_runtime
from syncd.sandbox import Sandbox
from syncd.store import AuditEvent, make_engine, upgrade
from syncd.store.types import table_of

DEMO_DB = Path("syncd-demo.db")
DEMO_CONFIG = Path("syncd-demo.yaml")


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


def run_demo(
    console: Console,
    *,
    contacts: int = 2000,
    seed: int = 7,
    serve: bool = False,
    port: int = DEFAULT_PORT,
    db: Path = DEMO_DB,
    config: Path = DEMO_CONFIG,
) -> int:
    """Run the demo; returns the exit code of the first sync.

    Args:
        console: Where the summary goes.
        contacts: Demo contacts to generate.
        seed: Seed of the demo data.
        serve: Keep the emulator running (at `port`) after the summary, until Ctrl-C.
        port: The emulator's port when serving; the written config points there either way.
        db: The demo database (replaced).
        config: The demo config written for the commands printed at the end.
    """
    started = time.perf_counter()
    configure_logging("warning", "auto")
    console.print(f"[bold]syncd demo[/]: {contacts:,} contacts, seed {seed}")
    sb = Sandbox(contacts=contacts, seed=seed, host=DEFAULT_HOST, port=port if serve else 0)
    sb.start()
    try:
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
        _write_config(config, db, settings.mappings, sb.audience_id, port)
        _summary(console, first, after_first)
        writes = sum(after_second[a]["writes"] - after_first[a]["writes"] for a in _APIS)
        calls = after_second["requests"] - after_first["requests"]
        console.print(
            f"\n[bold]second (incremental) run {second.run_id}[/]: {second.status}, "
            f"{calls} API calls, [bold]{writes} writes[/] (nothing changed, so nothing written)"
        )
        console.print(f"\ndone in {time.perf_counter() - started:.1f}s.")
        _next_steps(console, db, config, serve=serve)
        if serve:
            serve_until_stopped(console, sb)
    finally:
        sb.stop()
    return first.exit_code


def command_prefix() -> str:
    """How to call syncd from this directory: `.venv/bin/syncd` when that is what runs.

    `make demo` runs the virtualenv's script, which is not on the PATH of a fresh shell; the
    printed commands must run as they are, so they name it by its path when it sits under the
    current directory, and as plain `syncd` when it was found on the PATH.
    """
    script = Path(sys.argv[0])
    if script.name != "syncd" or not script.is_file():
        return "syncd"
    try:
        relative = Path(os.path.abspath(script)).relative_to(Path.cwd())
    except ValueError:
        return "syncd"
    return str(relative)


def _write_config(config: Path, db: Path, mappings: Path, audience: str, port: int) -> None:
    """`syncd-demo.yaml`: the demo database, the mappings and the emulator's address."""
    from syncd.sandbox import DEFAULT_HUBSPOT_TOKEN, DEFAULT_MAILCHIMP_KEY

    base = f"http://{DEFAULT_HOST}:{port}"
    data: dict[str, Any] = {
        "database_url": f"sqlite:///{db}",
        "mappings": str(mappings),
        **vendor_settings(
            base, DEFAULT_HUBSPOT_TOKEN, f"{base}/3.0", DEFAULT_MAILCHIMP_KEY, audience
        ),
    }
    header = (
        "# Written by `syncd demo`: the demo database and the built-in emulator's address.\n"
        "# `runs`, `audit`, `segments`, `plan` and `ui` read the database alone; `sync` and\n"
        f"# `apply` need the emulator running there (`syncd demo --serve`, port {port}).\n"
    )
    config.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _next_steps(console: Console, db: Path, config: Path, *, serve: bool) -> None:
    """Commands that run verbatim from this directory, in a fresh shell."""
    syncd = command_prefix()
    email = _an_email(db, "trial-to-paid")
    console.print(f"\nExplore the result (from this directory; {config} points at {db}):")
    for cmd in (
        "runs",
        "audit --since 1h",
        "segments list",
        f"segments explain {email}",
        "plan",
    ):
        console.print(f"  {syncd} {cmd} -c {config}", highlight=False, soft_wrap=True)
    console.print(
        f"  {syncd} ui -c {config}    # the admin console on http://127.0.0.1:8686/ until Ctrl-C",
        highlight=False,
        soft_wrap=True,
    )
    if serve:
        console.print(f"\nThe emulator stays up for `{syncd} sync -c {config}` and the console:")
    else:
        console.print(
            f"\nTo sync live, run `{syncd} demo --serve` (keeps the emulator running where "
            f"{config} points), then `{syncd} sync -c {config}` in another shell.",
            highlight=False,
            soft_wrap=True,
        )


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
