"""A machine's telemetry shaped for a chart: the scales and the points, in the plot's pixels.

The pages draw it as server-rendered SVG with the ``rollup_chart`` macro of
``cloud/web/templates/_charts.html`` (no front-end build, no JavaScript); this module only
computes where things go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.telemetry.models import RollupRead, SampleRead

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
    """One metric's rollups (per minute, or per ``step`` seconds) from ``since`` to ``until``:
    ``band`` outlines the min to max range (the maxima left to right, then the minima back),
    ``mean`` is the line through the means, one point per rollup of ``rollups``; ``low`` and
    ``high`` are the value axis' ends."""

    metric: str
    since: datetime
    until: datetime
    step: str = "minute"
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


MIN_SPAN = timedelta(minutes=2)


def fitted_since(since: datetime, until: datetime, first: datetime | None) -> datetime:
    """Where a chart window asked to start at ``since`` starts: at its first data (``first``)
    when that comes later, so a machine heard from for three minutes fills the chart with its
    three minutes rather than drawing them at the right edge of an hour; never closer to
    ``until`` than :data:`MIN_SPAN`."""
    if first is None:
        return since
    return max(since, min(first, until - MIN_SPAN))


def buckets(
    samples: Sequence[SampleRead], *, since: datetime, width: timedelta
) -> list[RollupRead]:
    """Raw samples folded as rollups of ``width`` (from ``since``), per metric then time: the
    finer resolution of a short window. Only numbers (not booleans or texts) are folded."""
    folded: dict[tuple[str, int], list[float]] = defaultdict(list)
    for sample in samples:
        value = sample.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        folded[(sample.metric, int((sample.time - since) / width))].append(float(value))
    return [
        RollupRead(
            metric=metric,
            minute=since + index * width,
            count=len(values),
            min=min(values),
            mean=sum(values) / len(values),
            max=max(values),
            last=values[-1],
        )
        for (metric, index), values in sorted(folded.items())
    ]


def rollup_chart(
    metric: str,
    rollups: Sequence[RollupRead],
    *,
    since: datetime,
    until: datetime,
    step: str = "minute",
) -> RollupChart:
    """Where ``rollups`` go on the chart of ``metric`` from ``since`` to ``until``."""
    if not rollups:
        return RollupChart(metric=metric, since=since, until=until, step=step)
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
        step=step,
        rollups=rollups,
        band=upper + lower,
        mean=[at(r.minute, r.mean) for r in rollups],
        low=low,
        high=high,
    )
