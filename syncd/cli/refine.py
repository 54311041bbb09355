"""Commands of the test-and-refine loop: `init`, `segments templates` and `segments report`.

`init` writes starter mappings from the template catalogue; `templates` lists the catalogue;
`report` prints each segment's history (trend by date, KPI targets, goal success, lift over the
holdout), read from the store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from syncd.cli.common import ConfigOpt, JsonOpt, fail, load_rules, open_db, out, settings_for
from syncd.cli.text import line
from syncd.config import Settings, parse_duration
from syncd.engine.profiles.read import iter_contacts
from syncd.engine.segment_report import SegmentReportHistory, SegmentTrend, load_report
from syncd.errors import ConfigError, ExitCode
from syncd.segments import RuleSet, analyse
from syncd.segments.templates import catalogue, choose, starter_files
from syncd.store import open_store
from syncd.store.segment_history import first_snapshots
from syncd.store.types import utcnow


def init(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to write fields.yaml and segments.yaml.")
    ] = Path("mappings"),
    goal: Annotated[
        list[str] | None, typer.Option("--goal", help="A goal to include (repeatable).")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="A classic model to include (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace existing files.")] = False,
) -> None:
    """Write starter mappings from the template catalogue (all templates by default)."""
    try:
        chosen = choose(goal or (), model or ())
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    files = starter_files(chosen)
    existing = [name for name in files if (directory / name).exists()]
    if existing and not force:
        fail(
            f"{directory / existing[0]} exists; pass --force to replace it, or --dir elsewhere",
            ExitCode.USAGE,
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {directory}: {exc.strerror or exc}", ExitCode.USAGE)
    out.print(line(f"wrote {directory}/fields.yaml and {directory}/segments.yaml "
                   f"({len(chosen)} segments); check them with `syncd check`"))  # fmt: skip


def templates(json_: JsonOpt = False) -> None:
    """The template catalogue: each starter segment with its model, goal and persona."""
    found = catalogue()
    if json_:
        out.print_json(data=[t.entry for t in found])
        return
    for t in found:
        kind = f"goal {t.goal}" if t.goal else f"model {t.model}"
        out.print(line(f"{t.key:<26} {kind:<24} {t.persona or ''}"))
        if t.description:
            out.print(line(f"{'':<26} {t.description}"))


def report(
    segment: Annotated[str | None, typer.Option("--segment", help="Only this segment key.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only history this recent, e.g. 30d.")
    ] = None,
    config: ConfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Each segment's trend by date, KPI targets, goal success and lift over its holdout."""
    settings = settings_for(config)
    rules = load_rules(settings.mappings)
    if segment is not None and segment not in rules.segment_by_key:
        fail(f"no segment {segment!r} in {settings.mappings}", ExitCode.USAGE)
    try:
        span = parse_duration(since) if since else None
    except (ConfigError, ValueError) as exc:
        fail(f"--since: {exc}", ExitCode.USAGE)
    store = open_db(settings)
    try:
        found = load_report(store, settings.workspace, rules, utcnow(), since=span, segment=segment)
    finally:
        store.dispose()
    if json_:
        out.print_json(data=found.to_dict())
    else:
        out.print(line(render_report(found), multiline=True))


def render_report(found: SegmentReportHistory) -> str:
    """The report as text a person reads in a terminal."""
    lines: list[str] = []
    for t in found.segments:
        lines += _segment_lines(t)
    if not any(t.points for t in found.segments):
        lines.append("no history yet: each sync run adds a snapshot per segment")
    return "\n".join(lines)


def _segment_lines(t: SegmentTrend) -> list[str]:
    kind = f"goal {t.goal}" if t.goal else f"model {t.model}"
    head = f"{t.key} ({kind}" + (f", holdout {t.holdout:g}%" if t.holdout else "") + ")"
    lines = [head]
    if t.persona or t.description:
        lines.append("  " + " - ".join(x for x in (t.persona, t.description) if x))
    kpis = sorted({k for p in t.points for k in p["kpis"]})
    if t.points:
        lines.append("  " + f"{'date':<11} {'size':>8} {'in':>6} {'out':>6} {'held':>6} "
                     + " ".join(f"{k[:12]:>12}" for k in kpis))  # fmt: skip
    for p in t.points:
        values = " ".join(f"{_num(p['kpis'].get(k)):>12}" for k in kpis)
        lines.append(f"  {p['date']:<11} {p['size']:>8} {p['entered']:>6} {p['exited']:>6} "
                     f"{p['holdout_size']:>6} {values}")  # fmt: skip
    if t.success:
        s = t.success
        lines.append(
            f"  success within {s['within_days']:g}d: {s['succeeded']} of {s['tracked']} tracked "
            f"(conversion {_pct(s['conversion_rate'])}, median {_num(s['median_days_to_success'])} "
            f"days, {s['still_open']} still open)" + (f", rank {t.rank_in_goal} in its goal"
                                                       if t.rank_in_goal else "")
        )  # fmt: skip
    for name, c in t.lift.items():
        lines.append(f"  lift on {name}: {_lift_text(c)}")
    lines += [f"  warning: {w}" for w in t.warnings]
    return lines


def _lift_text(c: dict[str, Any]) -> str:
    if c.get("difference") is None:
        return str(c["verdict"])
    return (
        f"members {_num(c['members'])} vs holdout {_num(c['holdout'])}, "
        f"95% CI of the difference [{_num(c['ci_low'])}, {_num(c['ci_high'])}]: {c['verdict']}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def mapping_warnings(settings: Settings, rules: RuleSet) -> list[str]:
    """The classic mistakes on the stored contacts, for `syncd check` (none without contacts)."""
    store = open_store(settings.database_url)
    try:
        profiles = [c.profile for c in iter_contacts(store, settings.workspace, rules.fields)]
        born = first_snapshots(store, settings.workspace)
    finally:
        store.dispose()
    if not profiles:
        return []
    return analyse(rules, profiles, utcnow(), first_seen=born).warnings


def register(app: typer.Typer) -> None:
    """Add `init` to the `syncd` app."""
    app.command()(init)


def register_segments(segments: typer.Typer) -> None:
    """Add `templates` and `report` to the `syncd segments` group."""
    segments.command("templates")(templates)
    segments.command("report")(report)
