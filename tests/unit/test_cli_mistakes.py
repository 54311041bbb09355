"""A table of user mistakes across every command: each gets its exit code and one clear line.

No case may print a traceback; each names what was wrong (the option, the file, the value).
`--debug` lets the exception through, and a real bug says "please report".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from syncd.cli import app
from syncd.errors import ConfigError
from syncd.store import upgrade

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
runner = CliRunner()
#: Nothing listens on the discard port: vendor settings that are valid but lead nowhere.
NOWHERE = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Mistake:
    """One bad invocation and what it must produce."""

    args: list[str]
    code: int
    says: str
    env: dict[str, str] = field(default_factory=dict)
    #: `check` prints a verdict per section and the failure's details under the error line.
    one_line: bool = True


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    upgrade(f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    monkeypatch.setenv("SYNCD_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("SYNCD_LOGGING__LEVEL", "error")
    (tmp_path / "vendors.yaml").write_text(
        f"hubspot: {{access_token: t0ken, base_url: '{NOWHERE}'}}\n"
        f"mailchimp: {{api_key: k3y-us1, audience_id: a1, base_url: '{NOWHERE}/3.0'}}\n",
        encoding="utf-8",
    )
    (tmp_path / "latin1.yaml").write_bytes("workspace: caf\xe9\n".encode("latin-1"))
    (tmp_path / "baddate.yaml").write_text("workspace: 2025-13-45\n", encoding="utf-8")
    (tmp_path / "flag.yaml").write_text("safety: {max_removals: true}\n", encoding="utf-8")
    (tmp_path / "emptytoken.yaml").write_text("hubspot: {access_token: ''}\n", encoding="utf-8")
    (tmp_path / "forever.yaml").write_text(
        "schedule: {incremental_every: 99999999999d}\n", encoding="utf-8"
    )
    (tmp_path / "noaudience.yaml").write_text("mailchimp: {api_key: k3y-us1}\n", encoding="utf-8")
    (tmp_path / "unknownkey.yaml").write_text("safety: {max_removal: 5}\n", encoding="utf-8")
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    (tmp_path / "unmigrated.db").write_bytes(b"")
    _mappings(tmp_path / "empty", segments="")
    _mappings(tmp_path / "latin1", segments_bytes="segments: []\n# caf\xe9\n".encode("latin-1"))
    _mappings(tmp_path / "between", segments=_segment("{field: deals_won, between: [0.5]}"))
    deep = "{field: deals_won, gte: 1}"
    for _ in range(3000):
        deep = "{not: " + deep + "}"
    _mappings(tmp_path / "deep", segments=_segment(deep))
    _mappings(tmp_path / "date", segments=_segment("{field: renewal_date, after: 2025-13-45}"))
    return tmp_path


def _segment(when: str) -> str:
    return f"segments:\n  - key: s1\n    model: behavioral\n    when: {when}\n"


def _mappings(
    directory: Path, *, segments: str | None = None, segments_bytes: bytes | None = None
) -> None:
    directory.mkdir()
    (directory / "fields.yaml").write_text(
        (MAPPINGS / "fields.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    if segments_bytes is not None:
        (directory / "segments.yaml").write_bytes(segments_bytes)
    else:
        (directory / "segments.yaml").write_text(segments or "", encoding="utf-8")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


HUGE = "99999999999999999999"

MISTAKES: dict[str, Mistake] = {
    # the command line itself
    "unknown command": Mistake(["sink"], 2, "No such command 'sink'"),
    "unknown option": Mistake(["runs", "--bogus"], 2, "No such option: --bogus"),
    "missing --run on apply": Mistake(["apply"], 2, "Missing option '--run'"),
    "missing email on explain": Mistake(["segments", "explain"], 2, "Missing argument"),
    "run id not a number": Mistake(["undo", "--run", "seven"], 2, "'--run'"),
    # runs
    "runs: unknown status": Mistake(["runs", "--status", "bogus"], 2, "use one of: running"),
    "runs: status typo": Mistake(["runs", "--status", "sucess"], 2, "did you mean 'success'?"),
    "runs: limit 0": Mistake(["runs", "--limit", "0"], 2, "'--limit'"),
    "runs: negative offset": Mistake(["runs", "--offset", "-3"], 2, "'--offset'"),
    # audit
    "audit: negative limit": Mistake(["audit", "--limit", "-1"], 2, "'--limit'"),
    "audit: huge run id": Mistake(["audit", "--run", HUGE], 2, "'--run'"),
    "audit: unknown run": Mistake(["audit", "--run", "41"], 2, "no run 41"),
    "audit: since overflows": Mistake(["audit", "--since", "999999999d"], 2, "--since"),
    "audit: since not a duration": Mistake(["audit", "--since", "yesterday"], 2, "duration"),
    "audit: outcome typo": Mistake(["audit", "--outcome", "aplied"], 2, "'applied'"),
    "audit: segment typo": Mistake(["audit", "--segment", "trial-to-pay"], 2, "'trial-to-paid'"),
    "audit: target typo": Mistake(
        ["audit", "--target", "hubspot_list:trial-to-pay"], 2, "'hubspot_list:trial-to-paid'"
    ),
    "audit: unknown contact": Mistake(["audit", "--contact", "nobody@example.com"], 2, "nobody"),
    "audit: json and csv": Mistake(["audit", "--json", "--csv"], 2, "choose one"),
    # segments
    "explain: unknown email": Mistake(["segments", "explain", "nobody@example.com"], 2, "nobody"),
    "segments list: empty mappings": Mistake(
        ["segments", "list"], 2, "the file is empty", {"SYNCD_MAPPINGS": "empty"}, False
    ),
    # the database
    "malformed database url": Mistake(
        ["runs"], 2, "not a database URL", {"SYNCD_DATABASE_URL": "sqlite:/x.db"}, False
    ),
    "sqlite url without a path": Mistake(
        ["audit"], 2, "needs a file path", {"SYNCD_DATABASE_URL": "sqlite:///"}, False
    ),
    "mistyped database path": Mistake(
        ["runs"], 2, "does not exist", {"SYNCD_DATABASE_URL": "sqlite:///typo.db"}
    ),
    "unmigrated database": Mistake(
        ["audit"], 2, "syncd db upgrade", {"SYNCD_DATABASE_URL": "sqlite:///unmigrated.db"}
    ),
    "unreachable postgres": Mistake(
        ["runs"],
        2,
        "cannot open the database",
        {"SYNCD_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1:9/x?connect_timeout=2"},
    ),
    "db upgrade: malformed url": Mistake(
        ["db", "upgrade"], 2, "not a database URL", {"SYNCD_DATABASE_URL": "sqlite:/x"}, False
    ),
    # configuration files
    "config is a directory": Mistake(["runs", "-c", "adir"], 2, "is a directory"),
    "config missing": Mistake(["check", "-c", "nope.yaml"], 2, "config file not found"),
    "config not utf-8": Mistake(["check", "-c", "latin1.yaml"], 2, "not UTF-8"),
    "config impossible date": Mistake(["check", "-c", "baddate.yaml"], 2, "not a real date"),
    "config bool as number": Mistake(["check", "-c", "flag.yaml"], 2, "not true/false", {}, False),
    "config empty token": Mistake(
        ["check", "-c", "emptytoken.yaml"], 2, "must not be empty", {}, False
    ),
    "config huge duration": Mistake(["check", "-c", "forever.yaml"], 2, "36500d", {}, False),
    "config unknown key": Mistake(["check", "-c", "unknownkey.yaml"], 2, "max_removal", {}, False),
    "config not a mapping": Mistake(["check", "-c", "list.yaml"], 2, "mapping of settings"),
    # check's sections
    "check: mailchimp without audience": Mistake(
        ["check", "-c", "noaudience.yaml"], 2, "audience_id", {}, False
    ),
    "check: unmigrated database": Mistake(
        ["check"], 2, "syncd db upgrade", {"SYNCD_DATABASE_URL": "sqlite:///unmigrated.db"}
    ),
    "check: mappings not utf-8": Mistake(
        ["check"], 2, "not UTF-8", {"SYNCD_MAPPINGS": "latin1"}, False
    ),
    "check: between one number": Mistake(
        ["check"], 2, "two numbers", {"SYNCD_MAPPINGS": "between"}, False
    ),
    "check: condition 3000 deep": Mistake(
        ["check"], 2, "nested", {"SYNCD_MAPPINGS": "deep"}, False
    ),
    "check: impossible date in mappings": Mistake(
        ["check"], 2, "not a real date", {"SYNCD_MAPPINGS": "date"}, False
    ),
    # commands that change things
    "sync: no vendor configured": Mistake(["sync"], 2, "neither hubspot nor mailchimp"),
    "apply: huge run id": Mistake(["apply", "--run", HUGE, "-c", "vendors.yaml"], 2, "'--run'"),
    "apply: unknown run": Mistake(["apply", "--run", "12", "-c", "vendors.yaml"], 2, "run 12"),
    "undo: huge run id": Mistake(["undo", "--run", HUGE, "-c", "vendors.yaml"], 2, "'--run'"),
    "undo: unknown run": Mistake(["undo", "--run", "3", "-c", "vendors.yaml"], 2, "no run 3"),
    "plan: mappings dir missing": Mistake(
        ["plan", "--mappings", "nowhere"], 2, "cannot read", {}, False
    ),
    # holds, alerts and refinement (commands added beside these)
    "reject: huge run id": Mistake(["reject", "--run", HUGE], 2, "'--run'"),
    "plan: run id zero": Mistake(["plan", "--run", "0"], 2, "'--run'"),
    "plan: unknown held run": Mistake(["plan", "--run", "7"], 2, "no run 7"),
    "alerts test: no webhooks": Mistake(["alerts", "test"], 2, "webhooks"),
    "init: unknown option": Mistake(["init", "--bogus"], 2, "No such option: --bogus"),
    "segments report: bad since": Mistake(["segments", "report", "--since", "x"], 2, "--since"),
    # serving
    "ui: port out of range": Mistake(["ui", "--port", "99999"], 2, "'--port'"),
    "sandbox serve: bad contacts": Mistake(
        ["sandbox", "serve", "--contacts", "-5"], 2, "'--contacts'"
    ),
    "demo: zero contacts": Mistake(["demo", "--contacts", "0"], 2, "'--contacts'"),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_mistake_is_one_clear_line(workdir: Path, name: str) -> None:
    case = MISTAKES[name]
    result = runner.invoke(app, case.args, env=case.env)
    _assert_one_clear_line(result, case)


def test_busy_ports_are_one_line(workdir: Path, busy_port: int) -> None:
    cases = [
        Mistake(["sandbox", "serve", "--port", str(busy_port)], 2, f"127.0.0.1:{busy_port}"),
        Mistake(
            ["run", "-c", "vendors.yaml"],
            2,
            f"127.0.0.1:{busy_port}",
            {"SYNCD_METRICS__PORT": str(busy_port)},
        ),
    ]
    for case in cases:
        _assert_one_clear_line(runner.invoke(app, case.args, env=case.env), case)


def test_the_table_is_long_enough() -> None:
    assert len(MISTAKES) + 2 >= 40
    commands = {m.args[0] for m in MISTAKES.values()}
    assert {"runs", "audit", "segments", "check", "db", "sync", "plan", "apply", "undo"} <= commands
    assert {"ui", "sandbox", "demo"} <= commands


def test_a_group_without_a_command_prints_its_help_not_an_error(workdir: Path) -> None:
    for args in ([], ["db"], ["segments"], ["sandbox"]):
        result = runner.invoke(app, args)
        assert "Usage" in result.stdout, args
        assert "error:" not in result.stderr, (args, result.stderr)


def test_no_mistake_creates_a_database_file(workdir: Path) -> None:
    for args in (["runs"], ["audit"], ["check"], ["segments", "list"], ["plan"]):
        runner.invoke(app, args, env={"SYNCD_DATABASE_URL": "sqlite:///typo.db"})
    assert not (workdir / "typo.db").exists()


def test_debug_shows_the_exception(workdir: Path) -> None:
    result = runner.invoke(app, ["--debug", "runs", "--status", "bogus"])
    assert isinstance(result.exception, ConfigError)


def test_an_internal_error_asks_for_a_report(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr("syncd.cli.inspect.list_runs", broken)
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: internal error: ValueError: a bug"
    assert "please report" in lines[1] and "--debug" in lines[1]


def _assert_one_clear_line(result: object, case: Mistake) -> None:
    stdout: str = result.stdout  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    exception = result.exception  # type: ignore[attr-defined]
    code = result.exit_code  # type: ignore[attr-defined]
    shown = f"{case.args}: exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    assert exception is None or isinstance(exception, SystemExit), shown
    assert "Traceback" not in stdout + stderr, shown
    assert code == case.code, shown
    lines = [text for text in stderr.splitlines() if text.strip()]
    assert lines and lines[0].startswith("error: "), shown
    assert case.says in stderr, shown
    if case.one_line:
        assert len(lines) == 1, shown


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if not children:
            paths.append(path)
            return
        for name, child in children.items():
            walk(child, [*path, name])

    walk(root, [])
    return paths


def test_every_command_answers_help() -> None:
    paths = _command_paths()
    assert len(paths) >= 14
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.stdout, result.stderr)
