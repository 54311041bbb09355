"""The runs page's charts, drawn on the server as inline SVG: runs in time order along x.

Three small charts share one x axis (one slot per run, oldest left, the date written where the
day changes): changes per run stacked by kind, each run's duration, and failures and holds
(failed rows per run, with a mark on every failed or held run). No JavaScript and no chart
library; every text goes through `markupsafe.Markup.format`, which escapes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from syncd.ui.charts import _nice_max
from syncd.ui.humanize import absolute, duration, parse

WIDTH, HEIGHT = 420, 150
LEFT, RIGHT, TOP, BOTTOM = 52, 6, 10, 22

Figure = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class Series:
    """One stacked part of a bar: its name, colour and how to read it from a run."""

    name: str
    colour: str
    value: Figure


PLANNED = ("planned_add", "planned_remove", "planned_set")


def held(run: Mapping[str, Any]) -> bool:
    """Whether a guard holds any of the run's targets (or, in older rows, the whole run)."""
    return bool(run.get("held_targets")) or run.get("status") == "held"


def _held_plan(run: Mapping[str, Any]) -> float:
    """The changes planned for the run's held targets (not written while they wait)."""
    if run.get("status") == "held" and not run.get("held_targets"):
        return _total(run, *PLANNED)
    counts: Mapping[str, Mapping[str, int]] = run.get("counts") or {}
    return float(
        sum(
            int((counts.get(t) or {}).get(n, 0))
            for t in run.get("held_targets") or ()
            for n in PLANNED
        )
    )


def _total(run: Mapping[str, Any], *names: str) -> float:
    totals: Mapping[str, int] = run.get("totals") or {}
    return float(sum(int(totals.get(n, 0)) for n in names))


CHANGES = (
    Series("added", "#16a34a", lambda r: _total(r, "added")),
    Series("removed", "#dc2626", lambda r: _total(r, "removed")),
    Series("set", "#2563eb", lambda r: _total(r, "set")),
    Series("planned (held)", "#a78bfa", lambda r: _held_plan(r)),
)
DURATION = (Series("duration", "#4b5563", lambda r: float(r.get("duration_s") or 0.0)),)
FAILURES = (
    Series("rejected", "#b91c1c", lambda r: _total(r, "rejected")),
    Series("retry later", "#d97706", lambda r: _total(r, "retry")),
)
MARKED = {"failed": "#b91c1c", "interrupted": "#b91c1c", "held": "#7c3aed"}


def _x_labels(runs: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(slot, "Mar 14") where the day changes, thinned to at most 8 labels."""
    marks: list[tuple[int, str]] = []
    last = None
    for i, run in enumerate(runs):
        at = parse(run.get("started_at"))
        day = at.date() if at else None
        if day is not None and day != last:
            marks.append((i, at.strftime("%b %d") if at else ""))
            last = day
    step = max(1, -(-len(marks) // 8))
    return marks[::step]


def bar_chart(
    runs: Sequence[Mapping[str, Any]],
    series: Sequence[Series],
    title: str,
    *,
    unit: Callable[[float], str] = lambda v: f"{v:,.0f}",
    marks: bool = False,
    chart_id: str = "c",
    empty: str = "nothing to show",
) -> Markup:
    """Stacked bars, one per run (oldest first), with a y axis, date labels and tooltips.

    Args:
        runs: Run dicts as `syncd.store.history.search_runs` gives them, oldest first.
        series: The stacked parts, bottom first.
        title: The chart's accessible title.
        unit: Formats a y value for the axis and the tooltips.
        marks: Draw a mark above each failed, interrupted or held run.
        chart_id: Unique per page, for the title's id.
        empty: Written across the plot when no run has anything to draw.
    """
    n = max(1, len(runs))
    stacks = [[max(0.0, s.value(r)) for s in series] for r in runs]
    top = _nice_max(math.ceil(max((sum(v) for v in stacks), default=0.0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    bar = max(1.0, min(24.0, slot * 0.7))

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        Markup(
            '<svg class="chart runs-chart" viewBox="0 0 {w} {h}" role="img" '
            'aria-labelledby="{id}-title"><title id="{id}-title">{t}</title>'
        ).format(w=WIDTH, h=HEIGHT, id=chart_id, t=title)
    ]
    # A middle line only where its label is exact (counts are whole; durations are not).
    exact = top % 2 == 0 or unit is duration
    for v in (0.0, top / 2, float(top)) if exact else (0.0, float(top)):
        parts.append(
            Markup(
                '<line class="grid" x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>'
            ).format(l=LEFT, r=WIDTH - RIGHT, y=y(v), tx=LEFT - 4, ty=y(v) + 4, v=unit(v))
        )
    for i, label in _x_labels(runs):
        cx = LEFT + slot * (i + 0.5)
        parts.append(
            Markup('<text class="axis" x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(
                cx, HEIGHT - 6, label
            )
        )
    for i, (run, values) in enumerate(zip(runs, stacks, strict=True)):
        x0 = LEFT + slot * (i + 0.5) - bar / 2
        base = 0.0
        words = ", ".join(f"{s.name} {unit(v)}" for s, v in zip(series, values, strict=True) if v)
        tip = f"run #{run['id']} ({run['status']}), {absolute(run.get('started_at'))}: "
        tip += words or "nothing"
        parts.append(
            Markup('<a href="/runs/{}" class="bar"><title>{}</title>').format(run["id"], tip)
        )
        for s, v in zip(series, values, strict=True):
            if v <= 0:
                continue
            parts.append(
                Markup(
                    '<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>'
                ).format(x0, y(base + v), bar, max(0.5, y(base) - y(base + v)), s.colour)
            )
            base += v
        kind = "held" if held(run) else str(run.get("status"))
        colour = MARKED.get(kind) if marks else None
        if colour:
            parts.append(
                Markup(
                    '<circle class="mark mark-{}" cx="{:.1f}" cy="{:.1f}" r="4" fill="{}"/>'
                ).format(kind, x0 + bar / 2, TOP + 4, colour)
            )
        else:  # an invisible hit area, so the tooltip works on an empty bar too
            parts.append(
                Markup(
                    '<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="transparent"/>'
                ).format(x0, TOP, bar, plot_h)
            )
        parts.append(Markup("</a>"))
    flagged = marks and any(held(r) or str(r.get("status")) in MARKED for r in runs)
    if not any(sum(v) for v in stacks) and not flagged:
        note = Markup('<text class="empty" x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>')
        parts.append(note.format(LEFT + plot_w / 2, TOP + plot_h / 2, empty))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def run_charts(runs_oldest_first: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The runs page's three charts and their legends."""
    runs = runs_oldest_first
    return {
        "changes": bar_chart(
            runs, CHANGES, "Changes per run by kind", chart_id="ch-changes", empty="no changes"
        ),
        "duration": bar_chart(
            runs, DURATION, "Duration of each run", unit=duration, chart_id="ch-duration"
        ),
        "failures": bar_chart(
            runs,
            FAILURES,
            "Failed changes per run; marks on failed and held runs",
            marks=True,
            chart_id="ch-failures",
            empty="no failed changes, no failed or held runs",
        ),
        "legend": [
            *[(s.name, s.colour) for s in (*CHANGES, *FAILURES)],
            ("failed run", MARKED["failed"]),
            ("held run", MARKED["held"]),
        ],
    }
