"""`syncd check`: every part of the set-up, each with its own verdict.

The configuration is read first (a file that does not load stops here, with every problem
listed). Then the mappings, the database (never created: a missing SQLite file is a failure,
and so is a schema that is not at the newest migration) and each configured vendor (its
settings, then, with `--probe`, one real call that proves the credentials, the scopes and the
audience) get a line each: `ok`, `FAILED` with the reason, `not configured` or `skipped` with why.
The command exits 2 when any section failed, so a deploy script can gate on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from syncd.cli.common import one_line, require_database
from syncd.cli.refine import mapping_warnings
from syncd.cli.text import line
from syncd.config import Settings
from syncd.errors import ConfigError, SyncdError
from syncd.failures import Reason
from syncd.segments import RuleSet, load_mappings
from syncd.store import current_revision, head_revision, make_engine, safe_url

OK, FAILED, SKIPPED, ABSENT = "ok", "FAILED", "skipped", "not configured"
#: Not a failure: the segments on the stored contacts show a classic mistake or more.
WARN = "warnings"
_STYLES = {OK: "green", FAILED: "bold red", SKIPPED: "yellow", ABSENT: "dim", WARN: "yellow"}


@dataclass
class Verdict:
    """One section's result: its name, `ok`/`FAILED`/..., one line, and details if it failed."""

    section: str
    state: str
    summary: str
    details: str = ""


def check_all(settings: Settings, config: Path | None, *, probe: bool) -> list[Verdict]:
    """Check every section; never raises for a problem it can name."""
    source = str(config) if config is not None else "environment and defaults"
    verdicts = [Verdict("config", OK, f"read from {source}")]
    rules, mappings = _mappings(settings)
    verdicts.append(mappings)
    database = _database(settings)
    verdicts.append(database)
    if rules is not None and database.state == OK:
        verdicts.append(_segments(settings, rules))
    for name in ("hubspot", "mailchimp"):
        verdicts.append(_vendor(settings, name, rules, probe=probe))
    return verdicts


def print_verdicts(out: Console, err: Console, verdicts: list[Verdict]) -> bool:
    """Print one line per section; failures again on stderr with their details.

    Returns:
        True when any section failed.
    """
    width = max(len(v.section) for v in verdicts)
    state_width = max(len(v.state) for v in verdicts)
    for v in verdicts:
        out.print(
            line(
                f"{v.section:<{width}}  ",
                (f"{v.state:<{state_width}}", _STYLES[v.state]),
                " ",
                v.summary,
            ),
            highlight=False,
        )
        if v.state == FAILED:
            err.print(line(("error:", "bold red"), f" {v.section}: ", v.summary), highlight=False)
        if v.details:
            err.print(line((v.details, "red"), multiline=True), highlight=False)
    failed = [v.section for v in verdicts if v.state == FAILED]
    if failed:
        out.print(line((f"check failed: {', '.join(failed)}", "bold red")))
    else:
        out.print(line(("all checks passed", "green")))
    return bool(failed)


def _mappings(settings: Settings) -> tuple[RuleSet | None, Verdict]:
    try:
        rules = load_mappings(settings.mappings)
    except ConfigError as exc:
        return None, Verdict("mappings", FAILED, exc.message, "\n".join(exc.problems))
    summary = (
        f"{settings.mappings}: {len(rules.stages)} journey stages, {len(rules.segments)} segments"
    )
    return rules, Verdict("mappings", OK, summary)


def _database(settings: Settings) -> Verdict:
    where = safe_url(settings.database_url)
    try:
        require_database(settings.database_url)
    except ConfigError as exc:
        return Verdict("database", FAILED, str(exc))
    db = make_engine(settings.database_url)
    try:
        at = current_revision(db)
    except Exception as exc:  # noqa: BLE001 - any driver error is reported as one line
        return Verdict("database", FAILED, f"cannot open {where}: {one_line(exc)}")
    finally:
        db.dispose()
    head = head_revision()
    if at == head:
        return Verdict("database", OK, f"{where}: schema up to date ({head})")
    state = "has no syncd schema" if at is None else f"is at revision {at}, needs {head}"
    return Verdict("database", FAILED, f"{where} {state}; run `syncd db upgrade`")


def _segments(settings: Settings, rules: RuleSet) -> Verdict:
    """The classic segmentation mistakes on the stored contacts (`syncd segments list`'s)."""
    found = mapping_warnings(settings, rules)
    if not found:
        return Verdict("segments", OK, "no warnings on the stored contacts")
    return Verdict(
        "segments", WARN, f"{len(found)} warning(s) on the stored contacts", "\n".join(found)
    )


def _vendor(settings: Settings, name: str, rules: RuleSet | None, *, probe: bool) -> Verdict:
    section = getattr(settings, name)
    if section is None:
        env = f"SYNCD_{name.upper()}__"
        return Verdict(name, ABSENT, f"add a {name}: section (or {env}... variables) to sync it")
    if rules is None:
        return Verdict(name, SKIPPED, "the mappings must load first")
    from syncd.runtime import build_connectors

    other = "mailchimp" if name == "hubspot" else "hubspot"
    alone = settings.model_copy(update={other: None})
    try:
        connector = build_connectors(alone, rules)[name]
    except ConfigError as exc:
        return Verdict(name, FAILED, str(exc))
    try:
        if not probe:
            return Verdict(name, SKIPPED, "settings valid; not called (--no-probe)")
        connector.check()
    except SyncdError as exc:
        return Verdict(name, FAILED, str(exc), _scope_help(name, exc))
    finally:
        connector.close()
    return Verdict(name, OK, "reachable, credentials accepted")


def _scope_help(name: str, exc: SyncdError) -> str:
    """For HubSpot's 403, the full list of scopes the private app needs."""
    if name != "hubspot" or exc.reason is not Reason.SCOPE_MISSING:
        return ""
    from connectors.hubspot.scopes import REQUIRED_SCOPES

    return "the private app needs these scopes: " + ", ".join(REQUIRED_SCOPES)
