"""Segment sizes over time as an inline SVG line chart, drawn on the server.

No JavaScript and no chart library: the chart is a few polylines and labels, built with
`markupsafe.Markup.format`, which escapes every interpolated value (segment keys come from
the user's mappings and are treated as untrusted text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup

PALETTE = (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c",
    "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d",
)  # fmt: skip

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def _nice_max(value: int) -> int:
    """The smallest 1/2/5 x 10^k at or above `value` (at least 1), for the y axis."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def colour(index: int) -> str:
    """The colour of the `index`-th series (shared with the legend)."""
    return PALETTE[index % len(PALETTE)]


def size_chart(points: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Markup:
    """An SVG chart of each segment's size at each point.

    Args:
        points: Oldest first: `{"run_id": int | None, "at": iso str, "sizes": {key: n}}`.
        keys: Segment keys, one line each, coloured by position (see `colour`).

    Returns:
        Safe markup for the template; an accessible `role="img"` with a text title.
    """
    n = len(points)
    top = _nice_max(max((int(p["sizes"].get(k, 0)) for p in points for k in keys), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: int) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        Markup(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="chart-title">'
            '<title id="chart-title">Segment sizes over {} points</title>'
        ).format(WIDTH, HEIGHT, n)
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        value = round(top * frac)
        parts.append(
            Markup(
                '<line class="grid" x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>'
            ).format(l=LEFT, r=WIDTH - RIGHT, y=y(value), tx=LEFT - 6, ty=y(value) + 4, v=value)
        )
    for i, p in enumerate(points):
        label = f"run {p['run_id']}" if p.get("run_id") is not None else "now"
        if n <= 12 or i in (0, n - 1) or i % max(1, n // 8) == 0:
            parts.append(
                Markup(
                    '<text class="axis" x="{:.1f}" y="{}" text-anchor="middle">{}</text>'
                ).format(x(i), HEIGHT - BOTTOM + 18, label)
            )
    for idx, key in enumerate(keys):
        coords = [(x(i), y(int(p["sizes"].get(key, 0)))) for i, p in enumerate(points)]
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(
            Markup(
                '<polyline class="series" points="{}" stroke="{}"><title>{}</title></polyline>'
            ).format(path, colour(idx), key)
        )
        for (cx, cy), p in zip(coords, points, strict=True):
            parts.append(
                Markup(
                    '<circle cx="{:.1f}" cy="{:.1f}" r="3" fill="{}"><title>{}: {}</title></circle>'
                ).format(cx, cy, colour(idx), key, p["sizes"].get(key, 0))
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
