"""The segments page's history: size or one KPI over time for one segment or a chosen few.

Read from the segment history (`engine/segment_report.py`, the same report `syncd segments
report` prints) and drawn on the server as an inline SVG line chart, like the other charts:
no JavaScript, every interpolated value escaped by `markupsafe`. The colours are the
Okabe-Ito palette, told apart also by people with colour-vision deficiencies, and each line
also carries its key in a tooltip and the legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

from syncd.engine.segment_report import SegmentTrend, load_report
from syncd.ui.queries import Context

#: Colour-blind-safe (Okabe-Ito, without its yellow, which is unreadable on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
#: At most this many segments on one chart: more lines than colours cannot be read.
MAX_SHOWN = len(PALETTE)
METRICS = ("size", "open_rate", "click_rate", "conversions", "revenue")
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def trend_colour(index: int) -> str:
    """The colour of the `index`-th segment shown (shared with the legend)."""
    return PALETTE[index % len(PALETTE)]


def segment_trends(ctx: Context, show: Sequence[str], metric: str) -> dict[str, Any]:
    """The trend section's data: the segments chosen, the metric, the chart, the details.

    Unknown keys are dropped; with none chosen, the goal segments are shown (up to
    `MAX_SHOWN`); an unknown metric falls back to size.
    """
    report = load_report(ctx.db, ctx.workspace, ctx.rules, ctx.clock())
    by_key = {t.key: t for t in report.segments}
    chosen = [k for k in dict.fromkeys(show) if k in by_key][:MAX_SHOWN]
    if not chosen:
        chosen = [t.key for t in report.segments if t.goal][:MAX_SHOWN]
    metric = metric if metric in METRICS else "size"
    shown = [by_key[k] for k in chosen]
    return {
        "segments": list(by_key),
        "chosen": chosen,
        "metric": metric,
        "metrics": METRICS,
        "chart": trend_chart(shown, metric),
        "details": [_detail(t) for t in shown],
        "has_history": any(t.points for t in shown),
    }


def _value(point: dict[str, Any], metric: str) -> float | None:
    raw = point["size"] if metric == "size" else point["kpis"].get(metric)
    return None if raw is None else float(raw)


def _detail(t: SegmentTrend) -> dict[str, Any]:
    return {
        "key": t.key, "persona": t.persona, "description": t.description,
        "holdout": t.holdout, "success": t.success, "lift": t.lift,
        "targets": t.kpi_targets, "warnings": t.warnings, "rank_in_goal": t.rank_in_goal,
    }  # fmt: skip


def _nice_top(value: float) -> float:
    """The smallest 1/2/5 x 10^k at or above `value`, for the y axis (floats allowed)."""
    if value <= 0:
        return 1.0
    step = 10.0 ** (len(str(int(value))) - 1) if value >= 1 else 0.001
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.3g}"


def trend_chart(trends: Sequence[SegmentTrend], metric: str) -> Markup:
    """An SVG chart of `metric` by date, one line per segment (gaps where a value is missing)."""
    dates = sorted({p["date"] for t in trends for p in t.points})
    n = len(dates)
    values = [v for t in trends for p in t.points if (v := _value(p, metric)) is not None]
    top = _nice_top(max(values, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / top

    parts = [
        Markup(
            '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="trend-title">'
            '<title id="trend-title">{} by date for {}</title>'
        ).format(WIDTH, HEIGHT, metric, ", ".join(t.key for t in trends) or "no segment")
    ]
    for frac in (0, 0.25, 0.5, 0.75, 1):
        value = top * frac
        parts.append(
            Markup(
                '<line class="grid" x1="{l}" x2="{r}" y1="{y:.1f}" y2="{y:.1f}"/>'
                '<text class="axis" x="{tx}" y="{ty:.1f}" text-anchor="end">{v}</text>'
            ).format(
                l=LEFT, r=WIDTH - RIGHT, y=y(value), tx=LEFT - 6, ty=y(value) + 4, v=_label(value)
            )
        )
    for i, day in enumerate(dates):
        if n <= 10 or i in (0, n - 1) or i % max(1, n // 8) == 0:
            parts.append(
                Markup(
                    '<text class="axis" x="{:.1f}" y="{}" text-anchor="middle">{}</text>'
                ).format(x(i), HEIGHT - BOTTOM + 18, day)
            )
    index = {d: i for i, d in enumerate(dates)}
    for idx, t in enumerate(trends):
        coords = [
            (x(index[p["date"]]), y(v), p["date"], v)
            for p in t.points
            if (v := _value(p, metric)) is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _, _ in coords)
            parts.append(
                Markup(
                    '<polyline class="series" points="{}" stroke="{}"><title>{}</title></polyline>'
                ).format(path, trend_colour(idx), t.key)
            )
        for cx, cy, day, v in coords:
            parts.append(
                Markup(
                    '<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}">'
                    "<title>{} on {}: {} {}</title></circle>"
                ).format(cx, cy, trend_colour(idx), t.key, day, metric, _label(v))
            )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
