"""`syncd db upgrade`: concurrent runs serialise, and a failure is one line.

Two containers starting together (or an operator and a deploy hook) both migrate a fresh
database. Without serialisation both create `alembic_version` and the loser fails with a
driver dump; with it, both exit 0 and the schema is at the newest revision.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from syncd.cli import app
from syncd.store import current_revision, head_revision, make_engine, upgrade

#: The real `syncd` entry point, started only when the test opens the gate, so both
#: processes have finished importing and reach the database within milliseconds.
CHILD = """
import pathlib, sys, time
from syncd.cli import main
ready, gate = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
del sys.argv[1:3]
ready.touch()
while not gate.exists():
    time.sleep(0.001)
main()
"""


def _upgrade_twice_at_once(url: str, tmp: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "SYNCD_DATABASE_URL": url}
    gate = tmp / "go"
    ready = [tmp / f"ready-{i}" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(flag), str(gate), "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for flag in ready
    ]
    deadline = time.monotonic() + 120
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.touch()
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_two_concurrent_upgrades_both_succeed(empty_db_url: str, tmp_path: Path) -> None:
    results = _upgrade_twice_at_once(empty_db_url, tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        assert f"is at revision {head_revision()}" in result.stdout
    db = make_engine(empty_db_url)
    try:
        assert current_revision(db) == head_revision()
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-dir/syncd.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/syncd",  # nothing listens on port 1
    ],
    ids=["sqlite-no-dir", "postgres-refused"],
)
def test_a_failed_upgrade_is_one_line(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: migration failed on ")


def test_a_database_newer_than_this_syncd_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    upgrade(url)
    db = make_engine(url)
    with db.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    db.dispose()
    monkeypatch.setenv("SYNCD_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert "ffff_from_the_future" in line
