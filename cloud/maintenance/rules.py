"""Coordinator alert rules on the telemetry rollups, e.g. "vibration rising over the last hour".

A rule reduces one metric's per-minute rollups over a window to a statistic (the mean, the
maximum, or the trend as a least-squares slope per hour of the minute means) and raises an alarm
above ``raise_above`` and clears it below ``clear_below`` (hysteresis). The alarms it makes are
ordinary alarms with source ``coordinator_rule``, so they are routed like any other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from cloud.telemetry.models import MetricRollup

MIN_POINTS = 10


class Statistic(StrEnum):
    MEAN = "mean"
    MAX = "max"
    SLOPE_PER_HOUR = "slope_per_hour"


class RollupRule(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    metric: str = Field(min_length=1, max_length=64)
    statistic: Statistic
    window_minutes: int = Field(default=60, ge=MIN_POINTS, le=24 * 60)
    raise_above: float
    clear_below: float
    severity: int = Field(default=450, ge=1, le=1000)
    text: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _hysteresis(self) -> RollupRule:
        if self.clear_below > self.raise_above:
            raise ValueError("clear_below must not be above raise_above")
        return self


DEFAULT_RULES = (
    RollupRule(
        code="vibration_trend",
        metric="vibration_rms",
        statistic=Statistic.SLOPE_PER_HOUR,
        raise_above=0.5,
        clear_below=0.1,
        text="vibration rising over the last hour",
    ),
)


def statistic(rule: RollupRule, rows: Sequence[MetricRollup]) -> float | None:
    """The rule's statistic over ``rows`` (one asset's rollups in the window), or None when
    there are too few minutes to judge."""
    if len(rows) < MIN_POINTS:
        return None
    if rule.statistic is Statistic.MAX:
        return max(row.maximum for row in rows)
    means = [row.total / row.count for row in rows]
    if rule.statistic is Statistic.MEAN:
        return sum(means) / len(means)
    start = rows[0].minute
    hours = [(row.minute - start).total_seconds() / 3600 for row in rows]
    mean_x, mean_y = sum(hours) / len(hours), sum(means) / len(means)
    spread = sum((x - mean_x) ** 2 for x in hours)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(hours, means, strict=True)) / spread


def by_asset(rows: Sequence[MetricRollup]) -> dict[tuple[str, str], list[MetricRollup]]:
    grouped: dict[tuple[str, str], list[MetricRollup]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: r.minute):
        grouped[(row.unit_id, row.machine)].append(row)
    return grouped


def window_start(rule: RollupRule, now: datetime) -> datetime:
    return now - timedelta(minutes=rule.window_minutes)
