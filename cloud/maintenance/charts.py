"""The figures page's bar charts, shaped: each bar's row and length in the plot's pixels.

The page draws them as server-rendered SVG with the ``bar_chart`` macro of
``cloud/web/templates/_charts.html`` (no front-end build, no JavaScript); this module only
computes where things go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PlacedBar:
    """A bar on its row: ``y`` is the row's top, ``length`` ``None`` for a bar without a value."""

    bar: Bar
    y: int
    length: float | None


@dataclass(frozen=True)
class BarChart:
    title: str
    unit: str
    bars: Sequence[PlacedBar]
    height: int
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def bar_chart(
    title: str, bars: Sequence[Bar], *, unit: str = "", maximum: float | None = None
) -> BarChart:
    """A horizontal bar chart scaled to ``maximum`` (else to the largest value); bars without a
    value are drawn as 'no data'."""
    values = [bar.value for bar in bars if bar.value is not None]
    top = maximum if maximum is not None else max(values, default=0.0) or 1.0
    plot = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    placed = [
        PlacedBar(
            bar=bar,
            y=28 + index * (BAR_HEIGHT + GAP),
            length=None if bar.value is None else max(1.0, plot * min(bar.value, top) / top),
        )
        for index, bar in enumerate(bars)
    ]
    return BarChart(title=title, unit=unit, bars=placed, height=30 + len(bars) * (BAR_HEIGHT + GAP))
