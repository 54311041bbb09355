"""Deciding on holds from the command line: `plan --run`, `apply --run`, `reject --run`.

A guard holds the targets it tripped on until a person decides. These commands show the held
plan in full, and release or reject it after a confirmation that repeats the counts. Off a
terminal there is no one to ask, so they refuse unless `--yes` says the decision was made.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from syncd.cli.common import (
    RUN_ID_MAX,
    ConfigOpt,
    JsonOpt,
    err,
    fail,
    lease_wait,
    open_db,
    out,
    require_run,
    runtime,
    settings_for,
)
from syncd.cli.render import print_result
from syncd.cli.text import clip, line
from syncd.errors import ConfigError, ExitCode
from syncd.store.held import HeldTargetView, run_holds

RunOpt = Annotated[
    int, typer.Option("--run", help="The run holding the plan.", min=1, max=RUN_ID_MAX)
]
TargetOpt = Annotated[
    str | None, typer.Option("--target", help="Only this target, e.g. hubspot_list:vip.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def show_held_plan(
    config: ConfigOpt,
    run: int,
    target: str | None,
    json_: bool,
    limit: int,
    offset: int,
) -> None:
    """`syncd plan --run ID`: the held plan of a run, every change with its reason."""
    settings = settings_for(config)
    # The held plan is in the store: no connector is built, so no vendor settings are needed.
    db = open_db(settings)
    try:
        require_run(db, settings.workspace, run)
        with db.connect() as conn:
            holds = run_holds(
                conn,
                settings.workspace,
                run,
                target,
                limit=None if json_ else limit,
                offset=0 if json_ else offset,
            )
    finally:
        db.dispose()
    if not holds:
        what = f"target {target} of run {run}" if target else f"run {run}"
        fail(f"{what} holds nothing (`syncd runs` lists held runs)", ExitCode.USAGE)
    if json_:
        out.print_json(data={"run_id": run, "holds": [h.to_json() for h in holds]})
        return
    for hold in holds:
        _print_hold(hold, offset)


def _print_hold(hold: HeldTargetView, offset: int) -> None:
    decided = (
        f"; {hold.status} by {hold.decided_by} at {hold.decided_at:%Y-%m-%d %H:%M} UTC"
        if hold.decided_at
        else ""
    )
    out.print(
        line((hold.target, "bold"), f" held by run {hold.run_id}", f" ({hold.status}{decided})")
    )
    out.print(line("  why: ", hold.reason))
    figures = ", ".join(f"{n} {action}" for action, n in sorted(hold.counts.items()))
    out.print(line(f"  changes: {figures or 'none'}"))
    table = Table(show_edge=False)
    for col in ("action", "contact", "reason"):
        table.add_column(col, overflow="fold")
    for change in hold.changes:
        table.add_row(
            clip(change["action"], 8), clip(change["contact"], 60), clip(change["reason"] or "", 80)
        )
    if hold.changes:
        out.print(table)
    shown = len(hold.changes)
    out.print(
        line(
            f"  showing {offset + 1 if shown else 0}-{offset + shown} of {hold.total}",
            f" (next page: --offset {offset + shown})" if offset + shown < hold.total else "",
        )
    )


def confirm(verb: str, holds: list[HeldTargetView], yes: bool) -> None:
    """Ask before a decision, repeating what it does; `--yes` or no terminal skips asking."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"{verb} needs confirmation: run it on a terminal, or add --yes", ExitCode.USAGE)
    for hold in holds:
        figures = ", ".join(f"{n} {action}" for action, n in sorted(hold.counts.items()))
        err.print(line(f"{verb} ", (hold.target, "bold"), f" (run {hold.run_id}): {figures}"))
    if not typer.confirm(f"{verb.capitalize()} {len(holds)} held target(s)?", err=True):
        fail("nothing decided", ExitCode.USAGE)


def _to_decide(rt: Any, run: int, target: str | None) -> list[HeldTargetView]:
    require_run(rt.db, rt.syncer.workspace, run)
    with rt.db.connect() as conn:
        holds = [
            h
            for h in run_holds(conn, rt.syncer.workspace, run, target, limit=0)
            if h.status == "waiting"
        ]
    if not holds:
        what = f"target {target} of run {run}" if target else f"run {run}"
        fail(
            f"nothing of {what} waits for a decision (`syncd runs` lists held runs)", ExitCode.USAGE
        )
    return holds


def apply_held(config: ConfigOpt, run: int, target: str | None, yes: bool) -> None:
    """`syncd apply --run ID`: release a held plan after confirmation, then apply it."""
    settings = settings_for(config)
    with runtime(settings) as rt:
        confirm("release", _to_decide(rt, run, target), yes)
        try:
            result = rt.syncer.release(run, target=target, wait=lease_wait())
        except ConfigError as exc:
            fail(str(exc), ExitCode.USAGE)
        print_result(out, result)
    raise typer.Exit(result.exit_code)


def reject(
    run: RunOpt,
    target: TargetOpt = None,
    yes: YesOpt = False,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Discard a held plan; the next run plans the target again from the data of its time."""
    settings = settings_for(config)
    with runtime(settings) as rt:
        confirm("reject", _to_decide(rt, run, target), yes)
        try:
            decided = rt.syncer.reject(run, target=target, wait=lease_wait())
        except ConfigError as exc:
            fail(str(exc), ExitCode.USAGE)
    if json_:
        out.print_json(
            data={"rejected": [{"target": h.target, "run_id": h.run_id} for h in decided]}
        )
        return
    for hold in decided:
        out.print(line("rejected ", (hold.target, "bold"), f" (run {hold.run_id})"))
