"""`syncd init`, `syncd segments templates` and `syncd segments report` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from syncd.cli import app
from syncd.segments import Goal, SegmentModel, load_mappings
from syncd.segments.templates import catalogue, choose, starter_files
from syncd.store import Contact, make_engine
from syncd.store.types import table_of

runner = CliRunner()


def upgraded_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the CLI in `tmp_path` with the shipped mappings and a store `db upgrade` made;
    the store's URL."""
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    monkeypatch.setenv("SYNCD_MAPPINGS", str(Path(__file__).resolve().parents[2] / "mappings"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return url


def test_catalogue_covers_every_goal_and_model_with_persona_kpis_and_success() -> None:
    found = catalogue()
    assert {t.goal for t in found if t.goal} == {g.value for g in Goal}
    classic = {m.value for m in SegmentModel} - {"goal", "engagement"}
    assert classic <= {t.model for t in found}
    for t in found:
        assert t.persona and t.description, t.key
        assert t.entry.get("kpis"), t.key
    with_success = {t.goal for t in found if t.goal and "success" in t.entry}
    assert {"convert", "renew", "upsell", "cross-sell", "promote-product"} <= with_success


@pytest.mark.parametrize("template", [t.key for t in catalogue()])
def test_every_template_alone_passes_check(template: str, tmp_path: Path) -> None:
    chosen = [t for t in catalogue() if t.key == template]
    for name, text in starter_files(chosen).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    rules = load_mappings(tmp_path)
    assert [s.key for s in rules.segments] == [template]


def test_init_writes_mappings_that_pass_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    made = runner.invoke(app, ["init", "--goal", "convert", "--goal", "renew", "--model", "value"])
    assert made.exit_code == 0, made.stderr
    rules = load_mappings(tmp_path / "mappings")
    assert [s.key for s in rules.segments] == [
        t.key for t in choose(["convert", "renew"], ["value"])
    ]
    monkeypatch.setenv("SYNCD_MAPPINGS", str(tmp_path / "mappings"))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    checked = runner.invoke(app, ["check", "--no-probe"])
    assert checked.exit_code == 0, checked.stderr
    assert "all checks passed" in checked.stdout
    again = runner.invoke(app, ["init"])
    assert again.exit_code == 2
    assert "exists; pass --force" in again.stderr
    assert "Traceback" not in again.stderr
    everything = runner.invoke(app, ["init", "--force"])
    assert everything.exit_code == 0
    assert len(load_mappings(tmp_path / "mappings").segments) == len(catalogue())


def test_init_names_an_unknown_goal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "--goal", "world-domination"])
    assert result.exit_code == 2
    assert "unknown goal 'world-domination' (known: inform, convert" in result.stderr


def test_templates_lists_the_catalogue() -> None:
    result = runner.invoke(app, ["segments", "templates"])
    assert result.exit_code == 0
    for t in catalogue():
        assert t.key in result.stdout
    data = json.loads(runner.invoke(app, ["segments", "templates", "--json"]).stdout)
    assert len(data) == len(catalogue())


def test_report_without_history_and_with_a_bad_since(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgraded_workdir(tmp_path, monkeypatch)
    empty = runner.invoke(app, ["segments", "report"])
    assert empty.exit_code == 0, empty.stderr
    assert "no history yet" in empty.stdout
    data = json.loads(runner.invoke(app, ["segments", "report", "--json"]).stdout)
    assert {s["key"] for s in data["segments"]} >= {"trial-to-paid", "newsletter"}
    bad = runner.invoke(app, ["segments", "report", "--since", "lately"])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --since:")
    unknown = runner.invoke(app, ["segments", "report", "--segment", "nope"])
    assert unknown.exit_code == 2
    assert "no segment 'nope'" in unknown.stderr


def test_check_shows_the_classic_mistakes_on_stored_contacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = upgraded_workdir(tmp_path, monkeypatch)
    clean = runner.invoke(app, ["check", "--no-probe"])
    assert "no warnings on the stored contacts" in clean.stdout  # no contacts: nothing to judge
    db = make_engine(url)
    with db.begin() as conn:
        conn.execute(
            insert(table_of(Contact)),
            [
                {"workspace": "default", "email": f"p{i}@example.com", "hubspot_id": str(i),
                 "attributes": {"hubspot": {"lifecycle_stage": "lead"}}}
                for i in range(30)
            ],
        )  # fmt: skip
    db.dispose()
    result = runner.invoke(app, ["check", "--no-probe"])
    assert result.exit_code == 0, result.stderr  # warnings are not failures
    assert "warning(s) on the stored contacts" in result.stdout
    assert "segments for 30 contacts" in result.stderr


def test_the_catalogue_ships_the_default_field_map() -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = root / "syncd" / "segments" / "catalogue" / "fields.yaml"
    assert shipped.read_text() == (root / "mappings" / "fields.yaml").read_text()
