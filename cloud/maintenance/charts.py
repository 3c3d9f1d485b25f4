"""Server-rendered SVG charts for the figures page (no front-end build, no JavaScript)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 170
CHART_WIDTH = 640
VALUE_WIDTH = 90


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    highlight: bool = False


def bar_chart(
    title: str, bars: Sequence[Bar], *, unit: str = "", maximum: float | None = None
) -> str:
    """A horizontal bar chart; bars without a value are drawn as 'no data'."""
    values = [bar.value for bar in bars if bar.value is not None]
    top = maximum if maximum is not None else max(values, default=0.0) or 1.0
    plot = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = 30 + len(bars) * (BAR_HEIGHT + GAP)
    rows = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]
    for index, bar in enumerate(bars):
        y = 28 + index * (BAR_HEIGHT + GAP)
        rows.append(f'<text x="0" y="{y + 15}" font-size="12">{escape(bar.label)}</text>')
        if bar.value is None:
            rows.append(
                f'<text x="{LABEL_WIDTH}" y="{y + 15}" font-size="12" fill="#6b7785">no data</text>'
            )
            continue
        width = max(1.0, plot * min(bar.value, top) / top)
        colour = "#e76f51" if bar.highlight else "#457b9d"
        tip = f"{escape(bar.label)}: {bar.value:g}{escape(unit)}"
        rows.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{colour}"><title>{tip}</title></rect>'
        )
        rows.append(
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 15}" font-size="12">'
            f"{bar.value:g}{escape(unit)}</text>"
        )
    rows.append("</svg>")
    return "\n".join(rows)
