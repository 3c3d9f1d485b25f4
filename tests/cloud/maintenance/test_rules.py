"""Rollup rule statistics, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cloud.maintenance.rules import RollupRule, Statistic, statistic
from cloud.telemetry.models import MetricRollup

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def rollups(values: list[float]) -> list[MetricRollup]:
    return [
        MetricRollup(
            unit_id="u",
            machine="m",
            metric="v",
            minute=T0 + timedelta(minutes=i),
            count=2,
            total=2 * v,
            minimum=v - 1,
            maximum=v + 1,
            last=v,
            last_time=T0,
        )
        for i, v in enumerate(values)
    ]


def rule(kind: Statistic) -> RollupRule:
    return RollupRule(code="r", metric="v", statistic=kind, raise_above=1, clear_below=0)


def test_statistics_of_a_window():
    rising = rollups([float(i) for i in range(30)])  # +1 per minute
    assert statistic(rule(Statistic.MEAN), rising) == pytest.approx(14.5)
    assert statistic(rule(Statistic.MAX), rising) == 30.0
    assert statistic(rule(Statistic.SLOPE_PER_HOUR), rising) == pytest.approx(60.0)
    assert statistic(rule(Statistic.SLOPE_PER_HOUR), rollups([5.0] * 30)) == pytest.approx(0)


def test_too_few_minutes_decide_nothing():
    assert statistic(rule(Statistic.MEAN), rollups([9.0] * 9)) is None


def test_a_rule_needs_hysteresis_in_the_right_order():
    with pytest.raises(ValidationError):
        RollupRule(code="r", metric="v", statistic=Statistic.MEAN, raise_above=1, clear_below=2)
