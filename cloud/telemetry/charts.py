"""A machine's telemetry shaped for a chart: the scales and the points, in the plot's pixels.

The pages draw it as server-rendered SVG with the ``rollup_chart`` macro of
``cloud/web/templates/_charts.html`` (no front-end build, no JavaScript); this module only
computes where things go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cloud.telemetry.models import RollupRead

WIDTH = 640
HEIGHT = 190
LEFT = 70
RIGHT = 10
TOP = 26
BOTTOM = 24
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True)
class RollupChart:
    """One metric's per-minute rollups from ``since`` to ``until``: ``band`` outlines the min to
    max range (the maxima left to right, then the minima back), ``mean`` is the line through the
    means, one point per rollup of ``rollups``; ``low`` and ``high`` are the value axis' ends."""

    metric: str
    since: datetime
    until: datetime
    rollups: Sequence[RollupRead] = ()
    band: Sequence[Point] = ()
    mean: Sequence[Point] = ()
    low: float = 0.0
    high: float = 0.0
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    plot_width: int = PLOT_WIDTH
    plot_height: int = PLOT_HEIGHT


def rollup_chart(
    metric: str, rollups: Sequence[RollupRead], *, since: datetime, until: datetime
) -> RollupChart:
    """Where ``rollups`` go on the chart of ``metric`` from ``since`` to ``until``."""
    if not rollups:
        return RollupChart(metric=metric, since=since, until=until)
    low = min(r.min for r in rollups)
    high = max(r.max for r in rollups)
    if high == low:  # a flat line in the middle
        low, high = low - 1, high + 1
    span = max((until - since).total_seconds(), 1.0)

    def at(minute: datetime, value: float) -> Point:
        elapsed = min(max((minute - since).total_seconds() / span, 0.0), 1.0)
        return Point(LEFT + PLOT_WIDTH * elapsed, TOP + PLOT_HEIGHT * (high - value) / (high - low))

    upper = [at(r.minute, r.max) for r in rollups]
    lower = [at(r.minute, r.min) for r in reversed(rollups)]
    return RollupChart(
        metric=metric,
        since=since,
        until=until,
        rollups=rollups,
        band=upper + lower,
        mean=[at(r.minute, r.mean) for r in rollups],
        low=low,
        high=high,
    )
