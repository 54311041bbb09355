"""The template catalogue: starter segments for every classic model and every goal.

The catalogue is data shipped inside the package (`catalogue/*.yaml`): the canonical fields,
the journey stages, one template per goal and templates for each classic model, each with a
description, a persona sketch, KPI targets and, where the goal has one, a success condition.
`syncd segments templates` lists it; `syncd init` writes a starter `mappings/` from it. Reads
only the package's own files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from syncd.segments.model import Goal, SegmentModel

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
    """One starter segment of the catalogue, with its YAML entry as written by `syncd init`."""

    key: str
    model: str
    goal: str | None
    persona: str | None
    description: str | None
    entry: dict[str, Any]


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files("syncd.segments").joinpath("catalogue", name).read_text())


def catalogue() -> list[Template]:
    """Every template: the goal templates first, then the classic models."""
    out = []
    for name in ("goals.yaml", "models.yaml"):
        for entry in _read(name)["templates"]:
            out.append(
                Template(
                    entry["key"], entry["model"], entry.get("goal"), entry.get("persona"),
                    entry.get("description"), entry,
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
    fields = resources.files("syncd.segments").joinpath("catalogue", "fields.yaml").read_text()
    doc = {"journey": _read("journey.yaml")["journey"], "segments": [t.entry for t in templates]}
    body = yaml.safe_dump(doc, sort_keys=False, width=100, allow_unicode=True)
    return {"fields.yaml": fields, "segments.yaml": HEADER + body}
