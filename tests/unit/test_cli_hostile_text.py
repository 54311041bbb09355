"""Vendor and store text is data: every command prints it literally, inertly and bounded.

A store is seeded with one hostile value in every vendor-sourced column (emails, ids, field
values, vendor error messages, audit reasons, targets, held reasons), and the real command line
reads it back. Each value must come out as the literal text (control characters as their
escapes), never as rich markup, a terminal hyperlink or an escape sequence the terminal obeys.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from syncd.cli import app
from syncd.cli.render import print_result
from syncd.cli.text import clip, inert, line
from syncd.engine.plan import Plan
from syncd.engine.run_record import RunResult
from syncd.store import (
    AuditEvent,
    Contact,
    RunStatus,
    SyncRun,
    make_engine,
    session_scope,
    upgrade,
)
from syncd.store.counts import RunCounts
from syncd.store.types import utcnow

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"

#: name -> a value a vendor accepts and syncd stores raw (emails in lower case, as syncd
#: normalises them).
HOSTILE = {
    "close-tag": "x[/]y@evil.com",
    "link": "[link=http://evil.example/]x[/link]",
    "style": "[bold red]loud@evil.com",
    "osc-title": "\x1b]0;pwned\x07@evil.com",
    "clear-screen": "\x1b[2J@evil.com",
    "rtl-override": "gnp.exe\u202e@evil.com",
    "c1-csi": "\x9b31m@evil.com",
    "long": "a" * 5000 + "@evil.com",
}
#: Budgets the tables give an address and a vendor message (`syncd.cli.render`).
EMAIL, MESSAGE = 40, 200

runner = CliRunner()


@dataclass(frozen=True)
class Seeded:
    """A migrated SQLite store holding one hostile value everywhere, and its config."""

    value: str
    config: Path


def _seed(url: str, value: str) -> None:
    """One contact, one failed run and its audit events, all carrying `value`."""
    now = utcnow()
    fields = {"job_title": value, "industry": value, "country": value, "city": value}
    with session_scope(make_engine(url)) as session:
        contact = Contact(
            email=value.lower(),
            hubspot_id=value,
            mailchimp_id=value,
            attributes={
                "hubspot": {"lifecycle_stage": "customer", "deals_won": 1, **fields},
                "mailchimp": {"_status": "subscribed", "language": value},
            },
        )
        run = SyncRun(
            trigger=value,
            status="failed",
            started_at=now - timedelta(minutes=1),
            finished_at=now,
            counts={"targets": {f"hubspot_list:{value}": {"added": 1}}, "held_reasons": [value]},
            error_class="rejected",
            error_message=value,
        )
        session.add_all([contact, run])
        session.flush()
        common = {
            "run_id": run.id,
            "contact_id": contact.id,
            "email": value.lower(),
            "hubspot_id": value,
            "mailchimp_id": value,
            "segment": value,
            "target": f"hubspot_list:{value}",
            "reason": value,
            "value": value,
            "action": "add",
        }
        applied = AuditEvent(**common, at=now - timedelta(seconds=30), outcome="applied")
        rejected = AuditEvent(**common, outcome="rejected", error_class="rejected", message=value)
        session.add_all([applied, rejected])


def _store(root: Path, value: str) -> Seeded:
    url = f"sqlite:///{root / 'syncd.db'}"
    upgrade(url)
    _seed(url, value)
    config = root / "syncd.yaml"
    config.write_text(
        f"database_url: '{url}'\nmappings: '{MAPPINGS}'\n"
        # Never called: `plan` builds the connectors but reads only the store.
        "hubspot: {access_token: not-used, base_url: 'http://127.0.0.1:9'}\n",
        encoding="utf-8",
    )
    return Seeded(value, config)


@pytest.fixture(scope="module", params=sorted(HOSTILE))
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A store seeded with one hostile value, shared by the commands that read it."""
    return _store(tmp_path_factory.mktemp(request.param), HOSTILE[request.param])


def _commands(seeded: Seeded) -> dict[str, list[str]]:
    cfg = ["--config", str(seeded.config)]
    return {
        "runs": ["runs", *cfg],
        "audit": ["audit", *cfg],
        "plan": ["plan", *cfg],
        "explain": ["segments", "explain", seeded.value, *cfg],
        "list": ["segments", "list", *cfg],
    }


def _expected(seeded: Seeded, command: str) -> list[str]:
    """What of the value each command must show: its escaped form, cut where it has a budget."""
    value = seeded.value
    return {
        "runs": [clip(value, MESSAGE)],  # the failure line under the table
        "audit": [clip(value.lower(), EMAIL)],  # the contact column
        "plan": [clip(value.lower(), EMAIL)],  # the sample contacts
        # Field values as their repr in the trace; the target in the membership history.
        "explain": [repr(value)[:40], clip(f"hubspot_list:{value}", EMAIL)],
        "list": [],  # sizes and coverage only: the values must merely not break it
    }[command]


def _assert_inert(output: str) -> None:
    """No escape sequence, hyperlink or invisible control from the data reached the output."""
    assert "Traceback" not in output
    for raw in ("\x1b", "\x9b", "\x07", "\u202e"):
        assert raw not in output, (raw, output[:2000])


@pytest.mark.parametrize("command", ["runs", "audit", "plan", "explain", "list"])
def test_hostile_values_print_literally(seeded: Seeded, command: str) -> None:
    result = runner.invoke(app, _commands(seeded)[command])
    output = result.stdout + result.stderr
    assert result.exit_code == 0, output
    _assert_inert(output)
    for shown in _expected(seeded, command):
        assert shown in output, (shown, output[:3000])
    if len(seeded.value) > 1000:
        assert seeded.value[:300] not in output  # cut with an ellipsis, not printed whole


@pytest.mark.parametrize("command", ["runs", "audit", "plan", "explain", "list"])
def test_tables_stay_within_the_console(seeded: Seeded, command: str) -> None:
    """However long a value, table rows fit the 160 columns of a pipe; other lines stay short."""
    result = runner.invoke(app, _commands(seeded)[command])
    for row in result.stdout.splitlines():
        in_table = row[:1] in ("\u2503", "\u2502", "\u250f", "\u2517", "\u2514", "\u250c")
        assert len(row) <= (160 if in_table else 2 * MESSAGE + 40), (command, row[:200])


SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def coloured(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """A store for the colour-terminal runs: markup, a hyperlink and escape sequences in one."""
    value = HOSTILE["link"] + HOSTILE["osc-title"] + HOSTILE["clear-screen"]
    return _store(tmp_path_factory.mktemp("colour"), value)


@pytest.mark.parametrize("command", ["runs", "audit", "plan", "explain"])
def test_on_a_colour_terminal_only_syncd_styles_reach_it(coloured: Seeded, command: str) -> None:
    """With colours on, rich would emit OSC 8 for `[link=...]` markup; the data emits nothing.

    A real `syncd` process, told by FORCE_COLOR that it writes to a terminal: its only escape
    sequences may be syncd's own colours (SGR), never the data's.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env |= {"FORCE_COLOR": "1", "TERM": "xterm-256color"}
    done = subprocess.run(
        [sys.executable, "-c", "from syncd.cli import main; main()", *_commands(coloured)[command]],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 0, output
    assert "\x1b[" in output, "expected syncd's own colours: is FORCE_COLOR honoured?"
    assert "\x1b]" not in output  # no OSC: a hyperlink (8) or a window title (0)
    plain = SGR.sub("", output)
    _assert_inert(plain)
    for shown in _expected(coloured, command):
        assert shown in plain


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_run_summary_of_sync_apply_and_undo_is_inert(name: str) -> None:
    """`sync`, `apply` and `undo` print `print_result`: held reasons, errors and targets."""
    value = HOSTILE[name]
    result = RunResult(
        7,
        RunStatus.HELD,
        value,
        Plan(changes=[]),
        held_reasons=[value],
        error_class="rejected",
        error=value,
        counts=RunCounts(targets={f"hubspot_list:{value}": {"added": 1}}),
    )
    buffer = io.StringIO()
    console = Console(
        file=buffer, force_terminal=True, color_system="truecolor", width=160, soft_wrap=True
    )
    print_result(console, result)
    output = buffer.getvalue()
    assert "\x1b]" not in output
    plain = SGR.sub("", output)
    _assert_inert(plain)
    assert f"held: {clip(value, 10_000)}" in plain
    assert f"rejected error: {clip(value, 10_000)}" in plain
    assert clip(f"hubspot_list:{value}", EMAIL) in plain


def test_fail_prints_markup_and_controls_literally(tmp_path: Path) -> None:
    """Error lines interpolate messages; a `[/]` or an ESC in one is shown, not obeyed."""
    missing = tmp_path / "x[/]y\x1b[2J" / "syncd.yaml"
    result = runner.invoke(app, ["check", "--config", str(missing)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "x[/]y\\x1b[2J" in result.stderr
    assert "\x1b" not in result.stderr


def test_line_keeps_syncd_styles_and_escapes_data() -> None:
    text = line(("held:", "magenta"), " ", "[bold]x\x1b[2J\ny", multiline=False)
    assert text.plain == "held: [bold]x\\x1b[2J y"
    assert [str(span.style) for span in text.spans] == ["magenta"]
    assert line("a\r\nb\tc\rd", multiline=True).plain == "a\nb\tc\\x0dd"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain ascii", "plain ascii"),
        ("caf\u00e9 \u65e5\u672c \U0001f600", "caf\u00e9 \u65e5\u672c \U0001f600"),
        ("\U0001f468\u200d\U0001f469", "\U0001f468\u200d\U0001f469"),  # a ZWJ sequence
        ("a\u00a0b", "a\u00a0b"),  # no-break space is printable enough
        ("a\x00b\x7fc", "a\\x00b\\x7fc"),
        ("\u2066x\u2069\u200b\u2028", "\\u2066x\\u2069\\u200b\\u2028"),
        ("tag\U000e0041", "tag\\U000e0041"),
    ],
)
def test_inert_escapes_only_what_a_terminal_would_act_on_or_hide(raw: str, shown: str) -> None:
    assert inert(raw) == shown


def test_clip_counts_terminal_cells() -> None:
    assert clip("abcdef", 4) == "abc\u2026"
    assert clip("\u65e5\u672c\u8a9e\u6587", 5) == "\u65e5\u672c\u2026"
    assert clip(None) == ""
    assert clip("\x1b" * 100, 10) == "\\x1b\\x1b\\\u2026"
