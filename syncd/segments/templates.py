"""The template catalogue: starter segments for every classic model and every goal.

The catalogue is data shipped inside the package (`catalogue/*.yaml`): the canonical fields,
the journey stages, one template per goal and templates for each classic model, each with a
description, a persona sketch, KPI targets and, where the goal has one, a success condition.
`syncd segments templates` lists it; `syncd init` writes a starter `mappings/` from it. Reads
only the package's own files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from syncd.segments.model import Goal, SegmentModel
from syncd.yamlfile import parse_yaml

HEADER = """\
# Segments syncd assigns, and where it writes them; written by `syncd init` from the catalogue
# (`syncd segments templates` lists it). The rule language is documented in the README and in
# the header of the default mappings/segments.yaml. Test and refine: `holdout` keeps a stable
# share of members out of every target for measurement, `kpis` sets targets the members'
# averages should meet, `success` says what "worked" means; `syncd segments report` shows the
# trend, the goal success and the lift over the holdout.
"""


@dataclass(frozen=True)
class Template:
    """One starter segment of the catalogue.

    Attributes:
        entry: Its parsed YAML entry.
        text: Its entry as written in the catalogue (comments and layout kept), which is what
            `syncd init` copies into segments.yaml.
    """

    key: str
    model: str
    goal: str | None
    persona: str | None
    description: str | None
    entry: dict[str, Any]
    text: str


def _text(name: str) -> str:
    return resources.files("syncd.segments").joinpath("catalogue", name).read_text("utf-8")


def _parsed(name: str) -> Any:
    problems: list[str] = []
    found = parse_yaml(_text(name), name, problems)
    if problems:  # the package's own data: a broken file is a bug, caught by the tests
        raise ValueError("; ".join(problems))
    return found


def catalogue() -> list[Template]:
    """Every template: the goal templates first, then the classic models."""
    out = []
    for name in ("goals.yaml", "models.yaml"):
        body = _text(name).split("\ntemplates:\n", 1)[1]
        blocks = [b.rstrip() + "\n" for b in re.split(r"(?m)^(?=  - key: )", body) if b.strip()]
        entries = _parsed(name)["templates"]
        for entry, block in zip(entries, blocks, strict=True):
            out.append(
                Template(
                    entry["key"], entry["model"], entry.get("goal"), entry.get("persona"),
                    entry.get("description"), entry, block,
                )
            )  # fmt: skip
    return out


def choose(goals: Sequence[str] = (), models: Sequence[str] = ()) -> list[Template]:
    """The templates for these goals and models (all of them when neither is given).

    Raises:
        ValueError: An unknown goal or model, naming the known ones.
    """
    known_goals = [g.value for g in Goal]
    known_models = [m.value for m in SegmentModel if m is not SegmentModel.GOAL]
    for given, known, what in ((goals, known_goals, "goal"), (models, known_models, "model")):
        for g in given:
            if g not in known:
                raise ValueError(f"unknown {what} {g!r} (known: {', '.join(known)})")
    everything = catalogue()
    if not goals and not models:
        return everything
    return [t for t in everything if t.goal in goals or (t.goal is None and t.model in models)]


def starter_files(templates: Sequence[Template]) -> dict[str, str]:
    """`fields.yaml` and `segments.yaml` text for a starter mappings directory."""
    segments = "\n".join(t.text for t in templates) if templates else "  []\n"
    body = f"{HEADER}\n{_text('journey.yaml')}\nsegments:\n{segments}"
    return {"fields.yaml": _text("fields.yaml"), "segments.yaml": body}
