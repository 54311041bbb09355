"""Commands that change HubSpot and Mailchimp: `sync`, `plan`, `apply`, `reject`, `undo`.

Each is a thin call into the engine's `Syncer`, which takes the workspace's apply lease itself;
these commands only say whom they are waiting for and render the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from syncd.cli.common import (
    RUN_ID_MAX,
    ConfigOpt,
    JsonOpt,
    err,
    fail,
    lease_wait,
    load_rules,
    open_db,
    out,
    require_run,
    run_id_option,
    runtime,
    settings_for,
)
from syncd.cli.holds import RunOpt, TargetOpt, YesOpt, apply_held, reject, show_held_plan
from syncd.cli.progress import progress
from syncd.cli.render import plan_json, print_plan, print_result, run_json
from syncd.config import Settings
from syncd.engine.syncer import Syncer
from syncd.errors import ConfigError, ExitCode
from syncd.store.types import utcnow


def sync(
    config: ConfigOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Full pull and reconcile.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan only.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Run one sync cycle."""
    settings = settings_for(config)
    with runtime(settings) as rt, progress(err) as on_progress:
        result = rt.syncer.sync(
            trigger="reconcile" if full else "manual",
            full=full,
            dry_run=dry_run,
            progress=on_progress,
            wait=lease_wait(),
        )
        if json_:
            payload = plan_json(rt.db, result) if dry_run else run_json(result)
            out.print_json(data=payload)
        elif dry_run:
            print_plan(out, rt.db, result)
        else:
            print_result(out, result)
    raise typer.Exit(result.exit_code)


def plan(
    config: ConfigOpt = None,
    mappings: Annotated[Path | None, typer.Option(help="Preview other mappings.")] = None,
    run: Annotated[
        int | None,
        typer.Option("--run", help="Show the held plan of this run.", min=1, max=RUN_ID_MAX),
    ] = None,
    target: TargetOpt = None,
    limit: Annotated[int, typer.Option(help="Changes shown per target.", min=1)] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many changes first.", min=0)] = 0,
    json_: JsonOpt = False,
) -> None:
    """Show what would change, per target; with --run, the plan a guard holds."""
    if run is not None:
        show_held_plan(config, run, target, json_, limit, offset)
        return
    settings = settings_for(config)
    rules = load_rules(mappings if mappings is not None else settings.mappings)
    db = open_db(settings)
    try:
        # The plan reads the store only: no connector is built, so no vendor settings needed.
        syncer = Syncer(
            db,
            settings.workspace,
            rules,
            pullers={},
            writers={},
            max_removals_pct=settings.safety.max_removals_pct,
            max_removals=settings.safety.max_removals,
            clock=utcnow,
        )
        result = syncer.plan_only()
        if json_:
            out.print_json(data=plan_json(db, result))
        else:
            print_plan(out, db, result)
    finally:
        db.dispose()


def apply(
    run: RunOpt, target: TargetOpt = None, yes: YesOpt = False, config: ConfigOpt = None
) -> None:
    """Release a plan held by a guard (every held target of the run, or --target)."""
    apply_held(config, run, target, yes)


def undo(
    run: Annotated[int, run_id_option("The run to revert.")],
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Revert the memberships one run changed, through the normal guards, audited as a run."""
    settings = settings_for(config)
    _known_run(settings, run)
    with runtime(settings) as rt:
        try:
            result = rt.syncer.undo(run, wait=lease_wait())
        except ConfigError as exc:
            fail(str(exc), ExitCode.USAGE)
        if json_:
            out.print_json(data=run_json(result))
        else:
            print_result(out, result)
    raise typer.Exit(result.exit_code)


def _known_run(settings: Settings, run_id: int) -> None:
    """Refuse an unknown run id before any connector is built (exit 2, one line)."""
    db = open_db(settings)
    try:
        require_run(db, settings.workspace, run_id)
    finally:
        db.dispose()


def register(app: typer.Typer) -> None:
    """Add these commands to the `syncd` app."""
    app.command()(sync)
    app.command()(plan)
    app.command()(apply)
    app.command()(reject)
    app.command()(undo)
