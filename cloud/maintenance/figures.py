"""Reliability figures from real timestamps: MTBF, MTTR, availability, service-level compliance.

A *failure* is an interval from when an asset stopped being usable (the corrective ticket's first
alert) to when it was usable again (the ticket's resolution). Over an observation period:

- MTTR = mean repair duration (minutes),
- MTBF = operating (up) time / number of failures (hours),
- availability = up time / period.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Failure:
    started_at: datetime
    resolved_at: datetime | None  # still down when None


@dataclass(frozen=True)
class Reliability:
    failures: int
    downtime: timedelta
    period: timedelta
    mttr_minutes: float | None
    mtbf_hours: float | None
    availability: float | None


def reliability(
    failures: Iterable[Failure], *, period_start: datetime, period_end: datetime
) -> Reliability:
    """Figures over ``[period_start, period_end)``; overlapping failures count their union once."""
    if period_end <= period_start:
        raise ValueError("the period must end after it starts")
    clipped = []
    repairs = []
    for failure in failures:
        end = failure.resolved_at or period_end
        if failure.resolved_at is not None and failure.started_at < period_end:
            repairs.append(failure.resolved_at - failure.started_at)
        start, stop = max(failure.started_at, period_start), min(end, period_end)
        if start < stop:
            clipped.append((start, stop))
    downtime = _union_length(clipped)
    period = period_end - period_start
    uptime = period - downtime
    count = len(clipped)
    return Reliability(
        failures=count,
        downtime=downtime,
        period=period,
        mttr_minutes=(
            round(sum(r.total_seconds() for r in repairs) / len(repairs) / 60, 2)
            if repairs
            else None
        ),
        mtbf_hours=round(uptime.total_seconds() / count / 3600, 2) if count else None,
        availability=round(uptime / period, 5),
    )


def _union_length(intervals: list[tuple[datetime, datetime]]) -> timedelta:
    total = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for start, stop in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (start, stop)
        else:
            current = (current[0], max(current[1], stop))
    if current is not None:
        total += current[1] - current[0]
    return total


def within_service_level(resolved: Iterable[tuple[datetime, datetime | None]]) -> float | None:
    """Share of tickets resolved by their due time, from (due_at, resolved_at) pairs."""
    pairs = list(resolved)
    if not pairs:
        return None
    met = sum(1 for due, done in pairs if done is not None and done <= due)
    return round(met / len(pairs), 4)
