"""The command line: version, check with several mistakes, db upgrade, honest refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from syncd import __version__
from syncd.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_check_reports_three_mistakes_with_key_paths(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "database_url: oracle://x\nsafety: {max_removals: -1}\nschedule: {reconcil_cron: x}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "3 problem(s)" in result.stderr
    for key in ("database_url", "safety.max_removals", "schedule.reconcil_cron"):
        assert f"{config}: {key}:" in result.stderr


def test_db_upgrade_then_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("SYNCD_MAPPINGS", str(Path(__file__).resolve().parents[2] / "mappings"))
    before = runner.invoke(app, ["check"])
    assert before.exit_code == 2
    assert "syncd db upgrade" in before.stdout
    assert not (tmp_path / "c.db").exists()  # check never creates the database it checks
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.stderr
    after = runner.invoke(app, ["check"])
    assert after.exit_code == 0, after.stdout
    assert "up to date" in after.stdout


def test_ui_refuses_a_public_address_without_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'ui.db'}"
    monkeypatch.setenv("SYNCD_DATABASE_URL", db)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    mappings = Path(__file__).resolve().parents[2] / "mappings"
    config = tmp_path / "syncd.yaml"
    config.write_text(
        f"mappings: {mappings}\nhubspot: {{access_token: t0ken-for-tests}}\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["ui", "--config", str(config), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "token" in result.stderr


def test_commands_needing_the_database_refuse_an_unmigrated_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    for args in (["runs"], ["audit"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "syncd db upgrade" in result.stderr


def test_check_reports_bad_mappings_by_file_and_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    source = Path(__file__).resolve().parents[2] / "mappings"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "fields.yaml").write_text(
        (source / "fields.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "m" / "segments.yaml").write_text(
        "journey: {stages: [{key: a, when: {field: opn_rate, gte: 1}}]}\nsegments: []\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SYNCD_MAPPINGS", str(tmp_path / "m"))
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert "segments.yaml" in result.stderr
    assert "journey.stages[0].when" in result.stderr
    assert "opn_rate" in result.stderr


def test_runs_refuses_an_unknown_status_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCD_DATABASE_URL", f"sqlite:///{tmp_path / 'r.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["runs", "--status", "bogus"])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        "error: --status: unknown run status 'bogus' "
        "(use one of: running, success, partial, failed, held, interrupted)"
    ]


def test_check_refuses_a_config_with_a_duplicate_section_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "syncd.yaml"
    config.write_text(
        "safety:\n  max_removals_pct: 5\nworkspace: w\nsafety:\n  max_removals: 1000\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", "-c", str(config)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "configuration OK" not in result.stdout
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: safety: duplicate key (lines 1 and 4)"
    ]
