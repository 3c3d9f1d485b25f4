"""Server-rendered SVG charts of a machine's telemetry (no front-end build, no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape

from cloud.telemetry.models import RollupRead

WIDTH = 640
HEIGHT = 190
LEFT = 70
RIGHT = 10
TOP = 26
BOTTOM = 24
BAND = "#a8c5da"
LINE = "#1d3557"


def rollup_chart(
    metric: str, rollups: Sequence[RollupRead], *, since: datetime, until: datetime
) -> str:
    """One metric's per-minute rollups from ``since`` to ``until``: the min to max range as a band,
    the mean as a line, each minute's figures in a tooltip."""
    title = escape(metric)
    rows = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{title}, per minute" class="chart" data-metric="{title}">',
        f'<text x="0" y="16" font-weight="bold" font-size="14">{title}</text>',
    ]
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    rows.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_width}" height="{plot_height}" '
        'fill="none" stroke="#c9d1d9"/>'
    )
    if not rollups:
        rows.append(
            f'<text x="{LEFT + 10}" y="{TOP + plot_height / 2:.1f}" font-size="12" '
            'fill="#6b7785">no data in this window</text></svg>'
        )
        return "\n".join(rows)
    low = min(r.min for r in rollups)
    high = max(r.max for r in rollups)
    if high == low:  # a flat line in the middle
        low, high = low - 1, high + 1
    span = max((until - since).total_seconds(), 1.0)

    def x(minute: datetime) -> float:
        return LEFT + plot_width * min(max((minute - since).total_seconds() / span, 0.0), 1.0)

    def y(value: float) -> float:
        return TOP + plot_height * (high - value) / (high - low)

    upper = [f"{x(r.minute):.1f},{y(r.max):.1f}" for r in rollups]
    lower = [f"{x(r.minute):.1f},{y(r.min):.1f}" for r in reversed(rollups)]
    mean = [f"{x(r.minute):.1f},{y(r.mean):.1f}" for r in rollups]
    rows.append(f'<polygon class="range" points="{" ".join(upper + lower)}" fill="{BAND}"/>')
    rows.append(
        f'<polyline class="mean" points="{" ".join(mean)}" fill="none" stroke="{LINE}" '
        'stroke-width="2"/>'
    )
    for r in rollups:
        tip = (
            f"{r.minute:%H:%M} UTC: mean {r.mean:g}, min {r.min:g}, max {r.max:g},"
            f" last {r.last:g} ({r.count} samples)"
        )
        rows.append(
            f'<circle cx="{x(r.minute):.1f}" cy="{y(r.mean):.1f}" r="3" fill="{LINE}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    bottom = TOP + plot_height
    rows += [
        f'<text x="{LEFT - 6}" y="{TOP + 10}" font-size="11" text-anchor="end">{high:g}</text>',
        f'<text x="{LEFT - 6}" y="{bottom}" font-size="11" text-anchor="end">{low:g}</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="11">{since:%H:%M} UTC</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" font-size="11" text-anchor="end">'
        f"{until:%H:%M} UTC</text>",
        "</svg>",
    ]
    return "\n".join(rows)
