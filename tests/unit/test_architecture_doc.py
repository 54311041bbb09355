"""The map of the code stays true: every module and package docs/ARCHITECTURE.md names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def test_every_path_the_map_names_exists() -> None:
    text = DOC.read_text()
    paths = set(re.findall(r"`((?:syncd|connectors)/[\w/.]*)`", text))
    assert paths, "the map names no module"
    missing = sorted(p for p in paths if not (ROOT / p.rstrip("/")).exists())
    assert missing == []


def test_every_layer_the_map_names_is_a_package() -> None:
    text = DOC.read_text()
    for name in set(re.findall(r"^ (syncd\.\w+|connectors)\b", text, flags=re.MULTILINE)):
        parts = name.split(".")
        base = ROOT.joinpath(*parts)
        assert base.is_dir() or base.with_suffix(".py").is_file(), name
