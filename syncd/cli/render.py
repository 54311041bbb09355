"""Human-readable renderings (rich tables) and JSON shapes of plans and run results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine

from syncd.cli.text import cell, clip, line
from syncd.engine.review import sample_changes
from syncd.engine.run_record import RunResult

# Budgets of values in tables and summary lines, in terminal cells. Each is wide enough for
# real data; together they keep a table inside the 160 columns the CLI uses off a terminal.
# Longer values end in an ellipsis; `--json` has them whole.
EMAIL_BUDGET = 40
TARGET_BUDGET = 40
REASON_BUDGET = 100
VALUE_BUDGET = 60
MESSAGE_BUDGET = 200

_STATUS_STYLES = {
    "success": "green",
    "partial": "yellow",
    "held": "magenta",
    "failed": "red",
    "interrupted": "red",
}


def _samples(db: Engine, result: RunResult) -> dict[str, list[dict[str, Any]]]:
    """The run's own samples (a dry run's contacts may exist only in its scratch store)."""
    return result.samples if result.samples is not None else sample_changes(db, result.plan)


def plan_json(db: Engine, result: RunResult) -> dict[str, Any]:
    """The plan as `syncd plan --json` and `syncd sync --dry-run --json` print it."""
    return {
        "held": bool(result.held_reasons),
        "held_reasons": result.held_reasons,
        "targets": result.plan.counts(),
        "samples": _samples(db, result),
        "segment_sizes": dict(sorted(result.segmented.sizes.items())) if result.segmented else {},
    }


def print_plan(console: Console, db: Engine, result: RunResult) -> None:
    """Counts per target and sample contacts with the reason for each change."""
    counts = result.plan.counts()
    table = Table(title="Plan: changes per target", show_lines=False)
    _columns(table, "target", right=("add", "remove", "set", "skipped (consent)"))
    for target, row in counts.items():
        table.add_row(
            cell(target, TARGET_BUDGET),
            str(row["add"]),
            str(row["remove"]),
            str(row["set"]),
            str(row.get("skipped_consent", 0)),
        )
    if not counts:
        table.add_row("(nothing to change)", "", "", "", "")
    console.print(table)
    for target, samples in _samples(db, result).items():
        console.print(line((clip(target, TARGET_BUDGET), "bold")))
        for s in samples:
            value = f" = {clip(repr(s['value']), VALUE_BUDGET)}" if s["value"] is not None else ""
            console.print(
                line(
                    f"  {clip(s['action'], 6):<6} ",
                    clip(s["contact"], EMAIL_BUDGET),
                    value,
                    "  ",
                    (f"({clip(s['reason'], REASON_BUDGET)})", "dim"),
                )
            )
    for reason in result.held_reasons:
        console.print(line(("would be held:", "bold yellow"), " ", reason))


#: Below this many columns, tables drop their low-value columns (and never cut a status).
NARROW = 120


def _narrow(console: Console) -> bool:
    return console.width < NARROW


def _when(value: str | None, narrow: bool) -> str:
    """`2026-11-28T13:06:06+00:00` as `2026-11-28 13:06:06`, or `11-28 13:06` when narrow."""
    text = (value or "")[:19].replace("T", " ")
    return text[5:16] if narrow else text


def print_runs(console: Console, runs: Sequence[Mapping[str, Any]]) -> None:
    """The run history as a table, then each run's advice and most frequent failures.

    At 120 columns and more every figure has a column; narrower, the low-value ones (trigger,
    values set, API calls, 429s) are dropped and the advice moves below the table, so the
    status and the changes stay whole at 80 columns.
    """
    narrow = _narrow(console)
    table = Table(
        title="Sync runs (newest first)", box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD
    )
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True, min_width=len("interrupted"))
    if not narrow:
        _columns(table, "trigger")
    _columns(table, "started", right=("took", "added", "removed"))
    if not narrow:
        _columns(table, right=("set",))
    _columns(table, right=("failed",))
    if not narrow:
        _columns(table, right=("API calls", "429s"), wrap=("what to do",))
    for run in runs:
        totals = _run_totals(run)
        row: list[str | Text] = [
            str(run["id"]),
            cell(run["status"], 16, _STATUS_STYLES.get(run["status"], "white")),
        ]
        if not narrow:
            row.append(cell(run["trigger"], 16))
        row += [
            _when(run["started_at"], narrow),
            f"{run['duration_s'] or 0:.1f}s",
            str(totals.get("added", 0)),
            str(totals.get("removed", 0)),
        ]
        if not narrow:
            row.append(str(totals.get("set", 0)))
        row.append(str(totals.get("rejected", 0) + totals.get("retry", 0)))
        if not narrow:
            row += [str(run["api_calls"]), str(run["http_429"]), cell(_run_advice(run), 80)]
        table.add_row(*row)
    console.print(table)
    for run in runs:
        advice = _run_advice(run)
        if narrow and advice:
            console.print(line(f"run {run['id']}: ", clip(advice, MESSAGE_BUDGET)))
        for failure in run.get("failures") or []:
            console.print(
                line(
                    f"run {run['id']}: {failure.get('count', 1)} x ",
                    clip(failure.get("message"), MESSAGE_BUDGET),
                    " -> ",
                    clip(failure.get("hint"), MESSAGE_BUDGET),
                )
            )


def _run_totals(run: Mapping[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in run["counts"].values():
        for key, value in row.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def _run_advice(run: Mapping[str, Any]) -> str:
    return str(run.get("hint") or (run["error"] or "; ".join(run["held_reasons"])))


def run_json(result: RunResult) -> dict[str, Any]:
    """One run's outcome as `syncd sync --json` prints it."""
    return {
        "run_id": result.run_id,
        "status": str(result.status),
        "exit_code": result.exit_code,
        "trigger": result.trigger,
        "counts": result.counts.to_json(),
        "held_reasons": result.held_reasons,
        "error_class": result.error_class,
        "error": result.error,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "finished_at": result.finished_at.isoformat() if result.finished_at else None,
    }


def print_result(console: Console, result: RunResult) -> None:
    """A short summary of one run: status, per-target changes, and why it stopped if it did."""
    style = _STATUS_STYLES.get(str(result.status), "white")
    duration = (
        (result.finished_at - result.started_at).total_seconds()
        if result.finished_at and result.started_at
        else 0.0
    )
    console.print(
        line(
            f"run {result.run_id}: ",
            (str(result.status), style),
            f" in {duration:.1f}s (trigger ",
            clip(result.trigger, 16),
            ")",
        )
    )
    targets = result.counts.targets
    if targets:
        table = Table(title="Changes per target")
        cols = ("added", "removed", "set", "rejected", "retry", "skipped_consent")
        _columns(table, "target", right=cols)
        for target, row in targets.items():
            table.add_row(cell(target, TARGET_BUDGET), *(str(row.get(col, 0)) for col in cols))
        console.print(table)
    for reason in result.held_reasons:
        console.print(line(("held:", "magenta"), " ", reason))
    for target, since in sorted(result.counts.waiting.items()):
        console.print(line(("waiting:", "magenta"), " ", target, f" since run {since}"))
    if result.counts.held and result.run_id is not None:
        run = result.run_id
        console.print(
            line(
                f"review with `syncd plan --run {run}`, then release with `syncd apply --run "
                f"{run}` or reject with `syncd reject --run {run}`"
            )
        )
    if result.error:
        console.print(line((f"{clip(result.error_class, 16)} error:", "red"), " ", result.error))


def print_events(console: Console, rows: Sequence[Mapping[str, Any]]) -> None:
    """The change log as a table.

    Narrower than 120 columns, the run and the reason of applied changes are left out (the
    JSON and CSV exports have them) and each failure's message follows the table, so contact,
    target, action and outcome stay readable at 80 columns.
    """
    narrow = _narrow(console)
    table = Table(
        title="Change log (newest first)", box=box.SIMPLE_HEAD if narrow else box.HEAVY_HEAD
    )
    if narrow:
        table.add_column("time", no_wrap=True)
        table.add_column("contact", overflow="fold", ratio=3)
        table.add_column("target", overflow="fold", ratio=2)
        _columns(table, "action")
        table.add_column("outcome", no_wrap=True, min_width=len("rejected"))
    else:
        _columns(
            table, "time", "run", "contact", "target", "action", "outcome", wrap=("reason / error",)
        )
    failed: list[Mapping[str, Any]] = []
    for row in rows:
        detail = row.get("reason") or ""
        if row.get("message"):
            detail = f"{row['message']} ({row['hint']})" if row.get("hint") else row["message"]
            failed.append(row)
        if narrow:
            table.add_row(
                _when(row.get("at"), narrow),
                cell(row.get("email"), EMAIL_BUDGET),
                cell(row.get("target"), TARGET_BUDGET),
                cell(row.get("action"), 16),
                cell(row.get("outcome"), 16),
            )
            continue
        table.add_row(
            _when(row.get("at"), narrow),
            str(row.get("run_id") or ""),
            cell(row.get("email"), EMAIL_BUDGET),
            cell(row.get("target"), TARGET_BUDGET),
            cell(row.get("action"), 16),
            cell(row.get("outcome"), 16),
            cell(detail, REASON_BUDGET),
        )
    console.print(table)
    if narrow:
        for row in failed:
            hint = f" -> {row['hint']}" if row.get("hint") else ""
            console.print(
                line(
                    f"{_when(row.get('at'), narrow)} ",
                    clip(row.get("email"), EMAIL_BUDGET),
                    ": ",
                    clip(f"{row['message']}{hint}", MESSAGE_BUDGET),
                )
            )


def print_page(console: Console, what: str, shown: int, total: int, offset: int) -> None:
    """`showing 1-100 of 5,422 events`, and how to see the next page when there is one."""
    if not shown:
        console.print(line(f"showing 0 of {total:,} {what}"), highlight=False)
        return
    first, last = offset + 1, offset + shown
    text = f"showing {first:,}-{last:,} of {total:,} {what}"
    if last < total:
        text += f"; next page: --offset {last}"
    console.print(line(text), highlight=False)


def print_history(console: Console, history: Sequence[Mapping[str, Any]]) -> None:
    """One contact's memberships over time: entered, left, when, in which run."""
    table = Table(title="Membership history")
    _columns(table, "target", "state", "entered", "run", "left", "run", wrap=("why",))
    for row in history:
        table.add_row(
            cell(row["target"], TARGET_BUDGET),
            cell(row["state"], 16),
            clip((row.get("entered_at") or "")[:19], 19),
            str(row.get("entered_run") or ""),
            clip((row.get("left_at") or "")[:19], 19),
            str(row.get("left_run") or ""),
            cell(row.get("left_reason") or row.get("entered_reason"), REASON_BUDGET),
        )
    if not history:
        table.add_row("(syncd never changed this contact's memberships)", "", "", "", "", "", "")
    console.print(table)


def _columns(
    table: Table, *whole: str, right: Sequence[str] = (), wrap: Sequence[str] = ()
) -> None:
    """Add columns.

    Identifiers (`whole`) and figures (`right`) are never split over lines, so an address or a
    target stays readable and searchable; prose (`wrap`) wraps to fit.
    """
    for name in whole:
        table.add_column(name, no_wrap=True)
    for name in right:
        table.add_column(name, justify="right", no_wrap=True)
    for name in wrap:
        table.add_column(name, overflow="fold")
